// One SMTP session: framing -> gate -> dispatch -> hook -> reply.
//
// Input is processed strictly in order. Commands the engine answers itself
// run synchronously, so a pipelined group (RFC 2920) is answered with one
// write; a command that needs a hook stops the loop, pauses the socket
// (backpressure: nothing is read or executed while a hook decides) and the
// loop resumes where it stopped once the hook's reply is sent.
import { isUtf8 } from "node:buffer";
import type * as tls from "node:tls";
import { errorMessage } from "../../errors/errors.js";
import { Channel, Mode } from "./channel.js";
import { CommandFramer, DataFlaw, DataReader, LineKind, type FramedLine } from "./framing.js";
import { parseMailFrom, parseRcptTo } from "./parse.js";
import * as R from "./replies.js";
import { REPLY } from "./replies.js";
import { belowMinimum, tlsFacts, wrapServerTls } from "./starttls.js";
import type { Envelope, Reply } from "./types.js";

const DEFAULT_MAX_BAD_COMMANDS = 10;
/** Recognized but not offered here (RFC 5321 and extensions we do not announce). */
const NOT_IMPLEMENTED = new Set(["EXPN", "TURN", "ETRN", "ATRN", "BDAT", "AUTH", "SEND", "SOML", "SAML", "VERB"]);

export class Session extends Channel {
  private readonly framer = new CommandFramer();
  private reader: DataReader | undefined;
  private env: Envelope | undefined;
  /** RCPT commands tried in this transaction: DATA then says 554 "no valid recipients" rather than 503. */
  private rcptTried = 0;
  private pumping = false;
  private badCommands = 0;
  private pendingShutdown: Reply | undefined;

  /** Starts the dialogue; with `refusal` (connection limits) only that reply is sent. */
  start(refusal?: Reply): void {
    this.log("+", "");
    this.attach(this.socket);
    // A socket from a pauseOnConnect server (handed over unread) is not started by a 'data' listener.
    this.socket.resume();
    this.socket.setNoDelay(true);
    if (refusal) {
      this.send(refusal);
      return;
    }
    const onConnect = this.hooks.onConnect;
    if (!onConnect) return this.greet();
    this.wait(this.call("onConnect", () => onConnect.call(this.hooks, this.info), R.connectError(this.opts.fqdn), true), (r) => {
      if (r) this.send({ ...r, close: true });
      else this.greet();
    });
  }

  /** closeAll(): 421 at the next point where a reply may be sent, then close. */
  shutdown(): Promise<void> {
    if (this.mode === Mode.Closed) return this.closed;
    const reply = R.shuttingDown(this.opts.fqdn);
    if (this.busy) this.pendingShutdown = reply;
    else if (this.mode === Mode.Tls) this.socket.destroy();
    else if (this.mode !== Mode.Closing) {
      this.send(reply);
      this.flush();
    }
    return this.closed;
  }

  private greet(): void {
    this.send(R.greeting(this.opts.fqdn));
    this.mode = Mode.Command;
    this.pump(); // a client that spoke before the greeting is answered now, in order
  }

  protected input(chunk: Buffer): void {
    this.framer.push(chunk);
    this.pump();
  }

  /** Syntax-level errors count toward the limit; the one that reaches it closes the session. */
  private bad(reply: Reply): void {
    if (++this.badCommands >= (this.opts.maxBadCommands ?? DEFAULT_MAX_BAD_COMMANDS)) {
      this.log("*", "too many unrecognized commands");
      this.send(R.tooManyErrors(this.opts.fqdn));
    } else this.send(reply);
  }

  // ---- hooks -----------------------------------------------------------

  /** Runs a hook; a throw, a rejection or a malformed reply becomes `failure` (the error text stays in the log). */
  private call(name: string, f: () => Promise<Reply | undefined> | undefined, failure: Reply, optional = false): Promise<Reply | undefined> {
    let p: Promise<Reply | undefined> | undefined;
    try {
      p = f();
    } catch (e) {
      p = Promise.reject(e);
    }
    return Promise.resolve(p).then(
      (r) => {
        if (r === undefined && optional) return undefined;
        if (R.isValidReply(r)) return r;
        this.log("*", `${name} hook returned an invalid reply`);
        return failure;
      },
      (e: unknown) => {
        this.log("*", `${name} hook failed: ${errorMessage(e)}`);
        return failure;
      },
    );
  }

  /** Stops the input loop until `p` settles, then runs `then` and resumes the loop. */
  private wait(p: Promise<Reply | undefined>, then: (r: Reply | undefined) => void): void {
    this.busy = true;
    // Replies so far stay buffered: the client pipelined this group and waits for all of
    // them anyway (RFC 2920 3.1); they leave with the next flush, once input is used up.
    this.updateFlow();
    void p.then((r) => {
      this.busy = false;
      if (this.mode === Mode.Closed) return;
      try {
        then(r);
        if (this.pendingShutdown) this.send(this.pendingShutdown);
      } catch (e) {
        this.log("*", `internal error: ${errorMessage(e)}`);
        this.socket.destroy();
        return;
      }
      this.timer.refresh(); // the client's idle time starts when it has our answer
      this.updateFlow();
      this.pump();
    });
  }

  // ---- input loop ------------------------------------------------------

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.busy) {
        if (this.mode === Mode.Data) {
          if (this.framer.buffered === 0) break;
          const chunk = this.framer.takeRest();
          const end = this.reader!.feed(chunk);
          if (end < 0) break;
          if (end < chunk.length) this.framer.push(chunk.subarray(end));
          this.endOfData();
        } else if (this.mode === Mode.Command) {
          const fl = this.framer.next();
          if (!fl) break;
          this.line(fl);
        } else break;
      }
    } finally {
      this.pumping = false;
    }
    if (!this.busy && this.mode !== Mode.Tls) this.flush();
  }

  private line(fl: FramedLine): void {
    if (fl.kind === LineKind.TooLong) {
      this.log("<", `${fl.line.toString("latin1")}... (line too long)`);
      return this.bad(REPLY.lineTooLong);
    }
    const b = fl.line;
    let ascii = true;
    let clean = true;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c === 0x0d || c === 0) clean = false;
      else if (c >= 0x80) ascii = false;
    }
    const text = ascii ? b.toString("latin1") : b.toString("utf8");
    this.log("<", text);
    if (fl.kind === LineKind.BareLf) return this.bad(REPLY.bareLf);
    if (!clean || (!ascii && !isUtf8(b))) return this.bad(REPLY.badOctets);
    this.command(text);
  }

  private command(text: string): void {
    const sp = text.indexOf(" ");
    const verb = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? "" : text.slice(sp + 1).trim();
    switch (verb) {
      case "EHLO":
      case "HELO":
        return this.helo(verb === "EHLO", arg);
      case "MAIL":
        return this.mail(arg);
      case "RCPT":
        return this.rcpt(arg);
      case "DATA":
        return this.data(arg);
      case "RSET":
        if (arg) return this.send(REPLY.noArguments);
        this.resetTransaction();
        return this.send(REPLY.resetOk);
      case "NOOP":
        return this.send(REPLY.ok);
      case "QUIT":
        return this.send(R.bye(this.opts.fqdn));
      case "VRFY":
        return this.send(arg ? REPLY.vrfy : REPLY.vrfySyntax);
      case "HELP":
        return this.send(REPLY.help);
      case "STARTTLS":
        return this.startTls(arg);
      default:
        return this.bad(NOT_IMPLEMENTED.has(verb) ? REPLY.notImplemented : REPLY.unrecognized);
    }
  }

  private resetTransaction(): void {
    this.env = undefined;
    this.rcptTried = 0;
  }

  // ---- commands --------------------------------------------------------

  private helo(esmtp: boolean, arg: string): void {
    if (!arg) return this.send(REPLY.heloSyntax);
    this.resetTransaction(); // RFC 5321 4.1.4: EHLO/HELO imply RSET
    this.info.heloName = arg;
    this.info.esmtp = esmtp;
    const { fqdn } = this.opts;
    if (!esmtp) return this.send(R.heloReply(fqdn, this.info.remoteAddress));
    const tlsOffered = !this.info.tls && this.context() !== undefined;
    this.send(R.ehloReply(fqdn, this.info.remoteAddress, this.opts.maxMessageSize, tlsOffered));
  }

  private context(): tls.SecureContext | undefined {
    try {
      return this.opts.secureContext?.();
    } catch (e) {
      this.log("*", `TLS context unavailable: ${errorMessage(e)}`);
      return undefined;
    }
  }

  private mail(arg: string): void {
    if (!this.info.heloName) return this.send(REPLY.needHelo);
    if (this.env) return this.send(REPLY.nestedMail);
    const p = parseMailFrom(arg, this.opts.maxMessageSize);
    if (!p.ok) return this.send(p.reply);
    const { address, params } = p;
    this.wait(this.call("onMailFrom", () => this.hooks.onMailFrom(this.info, address, params), REPLY.temporaryError), (r) => {
      if (r!.code === 250) {
        this.env = { mailFrom: address, mailParams: params, rcptTo: [] };
        this.rcptTried = 0;
      }
      this.send(r!);
    });
  }

  private rcpt(arg: string): void {
    const env = this.env;
    if (!env) return this.send(this.info.heloName ? REPLY.needMail : REPLY.needHelo);
    this.rcptTried++;
    const p = parseRcptTo(arg, env.mailParams.smtputf8 === true);
    if (!p.ok) return this.send(p.reply);
    if (env.rcptTo.length >= this.opts.maxRecipients) return this.send(REPLY.tooManyRecipients);
    const { address, params } = p;
    this.wait(this.call("onRcptTo", () => this.hooks.onRcptTo(this.info, env, address, params), REPLY.temporaryError), (r) => {
      if ((r!.code === 250 || r!.code === 251) && this.env === env) env.rcptTo.push({ address, params });
      this.send(r!);
    });
  }

  private data(arg: string): void {
    if (arg) return this.send(REPLY.noArguments);
    const env = this.env;
    if (!env) return this.send(this.info.heloName ? REPLY.needMail : REPLY.needHelo);
    if (!env.rcptTo.length) return this.send(this.rcptTried ? REPLY.noValidRecipients : REPLY.needRcpt);
    this.send(REPLY.startData);
    this.reader = new DataReader(this.opts.maxMessageSize);
    this.mode = Mode.Data;
  }

  private endOfData(): void {
    const { message, flaws, size } = this.reader!.result();
    this.reader = undefined;
    this.mode = Mode.Command;
    const env = this.env!;
    this.resetTransaction();
    let refusal: Reply | undefined;
    if (flaws & (DataFlaw.BareCr | DataFlaw.BareLf)) refusal = REPLY.smuggling;
    else if (flaws & DataFlaw.Nul) refusal = REPLY.nulOctet;
    else if (flaws & DataFlaw.LongLine) refusal = REPLY.longLine;
    else if (flaws & DataFlaw.TooBig) refusal = REPLY.sizeExceeded;
    if (refusal) {
      const what = flaws & DataFlaw.BareLf ? "bare LF" : flaws & DataFlaw.BareCr ? "bare CR" : flaws & DataFlaw.Nul ? "NUL octet" : flaws & DataFlaw.LongLine ? "line too long" : `${size} octets`;
      this.log("*", `message refused: ${what}`);
      this.info.messages++;
      return this.send(refusal);
    }
    this.wait(this.call("onData", () => this.hooks.onData(this.info, env, message), REPLY.temporaryError), (r) => {
      this.info.messages++;
      this.send(r!);
    });
  }

  private startTls(arg: string): void {
    if (arg) return this.send(REPLY.noArguments);
    if (this.info.tls) return this.send(REPLY.alreadySecure);
    if (!this.opts.secureContext) return this.send(REPLY.startTlsNotOffered);
    if (this.env) return this.send(REPLY.inTransaction);
    const context = this.context();
    if (!context) return this.send(REPLY.tlsUnavailable);
    this.send(REPLY.tlsReady);
    // RFC 3207 / CVE-2011-0411: whatever followed STARTTLS in plaintext is dropped, never run.
    const dropped = this.framer.discard();
    if (dropped) this.log("*", `discarded ${dropped} octets sent after STARTTLS before the TLS handshake`);
    this.mode = Mode.Tls;
    const raw = this.socket;
    this.detachForTls(raw);
    raw.pause();
    raw.on("error", () => {}); // errors now surface on the TLS socket; a late one must not be unhandled
    this.flush((err) => {
      if (err || this.mode !== Mode.Tls) return void raw.destroy();
      const sock = wrapServerTls(raw, context, this.opts);
      this.socket = sock;
      this.paused = false;
      this.attach(sock);
      sock.once("secure", () => this.secured(sock));
    });
  }

  private secured(sock: tls.TLSSocket): void {
    if (this.mode !== Mode.Tls) return;
    const facts = tlsFacts(sock);
    this.info.tls = facts;
    this.log("*", `TLS negotiated ${facts.protocol} ${facts.cipher}${facts.resumed ? " (resumed)" : ""}, client certificate: ${facts.peerLeaf ? "yes" : "none"}`);
    // RFC 3207 4.2: forget everything learned before TLS; the client must EHLO again.
    this.info.heloName = undefined;
    this.info.esmtp = false;
    this.resetTransaction();
    this.mode = Mode.Command;
    this.timer.refresh();
    const min = this.opts.minTlsVersion ?? "TLSv1.2";
    if (belowMinimum(facts.protocol, min)) {
      this.log("*", `TLS refused: ${facts.protocol} is below the minimum ${min}`);
      this.send(R.tlsTooOld(this.opts.fqdn, min));
      return this.flush();
    }
    const onSecure = this.hooks.onSecure;
    if (!onSecure) return this.pump();
    const failed = R.connectError(this.opts.fqdn);
    const run = async (): Promise<Reply | undefined> => {
      await onSecure.call(this.hooks, this.info);
      return undefined;
    };
    // A failed onSecure means no trust facts for this session: close rather than decide blind.
    this.wait(this.call("onSecure", run, failed, true), (r) => {
      if (r) this.send(r);
    });
  }
}
