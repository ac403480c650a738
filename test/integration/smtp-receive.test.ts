// The SMTP receive engine over real loopback sockets, driven by a raw client
// that sends exact bytes and asserts exact replies: greeting and EHLO,
// transactions, STARTTLS (client certificates, command injection, failed
// handshakes), SMTP smuggling, limits, hooks, the protocol log.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import { SmtpReceiver } from "../../src/smtp/receive/receiver.js";
import type { Envelope, LogEvent, MailParams, ReceiveHooks, ReceiverOptions, Reply, SessionInfo } from "../../src/smtp/receive/types.js";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";

const FQDN = "mx.sealpost.test";
const GREETING = `220 ${FQDN} Sealpost ESMTP ready\r\n`;
const EHLO_PLAIN = [`250-${FQDN} Hello [127.0.0.1]`, "250-SIZE 10000", "250-PIPELINING", "250-8BITMIME", "250-ENHANCEDSTATUSCODES", "250-DSN", "250 SMTPUTF8"].join("\r\n") + "\r\n";
const EHLO_TLS = EHLO_PLAIN.replace("250 SMTPUTF8", "250-SMTPUTF8") + "250 STARTTLS\r\n";
const SENDER_OK = "250 2.1.0 Sender OK\r\n";
const RCPT_OK = "250 2.1.5 Recipient OK\r\n";
const START_DATA = "354 Start mail input; end with <CRLF>.<CRLF>\r\n";
const QUEUED = "250 2.6.0 Queued\r\n";
const SMUGGLING = "550 5.6.11 Message refused: bare CR or LF in the message (SMTP smuggling protection)\r\n";

// ---- a raw client ------------------------------------------------------------------

class RawClient {
  private buf = "";
  private waiter: (() => void) | undefined;
  closed = false;
  /** The TLS session the server issued (for resumption tests). */
  tlsSession: Buffer | undefined;
  private readonly closedP: Promise<void>;
  sock: net.Socket;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    this.listen(sock);
    this.closedP = new Promise((r) => sock.once("close", () => ((this.closed = true), this.wake(), r())));
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  private listen(s: net.Socket): void {
    s.on("data", (d: Buffer) => {
      this.buf += d.toString("latin1");
      this.wake();
    });
    s.on("error", () => {});
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  write(data: string | Buffer): void {
    this.sock.write(typeof data === "string" ? Buffer.from(data, "utf8") : data);
  }

  /** One complete reply (all its lines, CRLF included). */
  async reply(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        return m[0];
      }
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply; unread: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => (clearTimeout(t), r());
      });
    }
  }

  async send(line: string): Promise<string> {
    this.write(line);
    return this.reply();
  }

  /** Asserts that nothing arrives for `ms`. */
  async silence(ms = 150): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    assert.equal(this.buf, "", "no reply expected");
  }

  get unread(): string {
    return this.buf;
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return Promise.race([this.closedP, new Promise<void>((_, rej) => setTimeout(() => rej(new Error("not closed")), timeoutMs).unref())]);
  }

  async startTls(opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    assert.equal(this.buf, "", "nothing may follow the 220 before the handshake");
    this.sock.removeAllListeners("data");
    const t = tls.connect({ socket: this.sock, rejectUnauthorized: false, servername: FQDN, ...opts });
    t.on("session", (sess: Buffer) => (this.tlsSession = sess));
    this.listen(t);
    await new Promise<void>((resolve, reject) => {
      t.once("secureConnect", resolve);
      t.once("error", reject);
    });
    this.sock = t;
    return t;
  }

  end(): void {
    this.sock.end();
  }
}

// ---- a server with recording hooks -------------------------------------------------

interface Recorder {
  mail: Array<{ address: string; params: MailParams }>;
  rcpt: string[];
  data: Array<{ env: Envelope; message: Buffer; session: SessionInfo }>;
  secure: SessionInfo[];
  log: Array<[LogEvent, string]>;
}

interface Harness {
  port: number;
  receiver: SmtpReceiver;
  rec: Recorder;
  connect(): Promise<RawClient>;
  /** Connects, reads the greeting, says EHLO. */
  ready(): Promise<RawClient>;
  close(): Promise<void>;
}

const open: Harness[] = [];

function baseOptions(extra: Partial<ReceiverOptions> = {}): ReceiverOptions {
  return {
    connector: "Default Frontend",
    fqdn: FQDN,
    maxMessageSize: 10_000,
    maxRecipients: 5,
    idleTimeoutMs: 5_000,
    maxConnections: 50,
    maxConnectionsPerSource: 20,
    requestClientCertificate: true,
    ...extra,
  };
}

async function startServer(extra: Partial<ReceiverOptions> = {}, hooks: Partial<ReceiveHooks> = {}): Promise<Harness> {
  const rec: Recorder = { mail: [], rcpt: [], data: [], secure: [], log: [] };
  const all: ReceiveHooks = {
    onMailFrom: async (_s, address, params) => (rec.mail.push({ address, params }), { code: 250, enhanced: "2.1.0", text: "Sender OK" }),
    onRcptTo: async (_s, _e, address) => (rec.rcpt.push(address), { code: 250, enhanced: "2.1.5", text: "Recipient OK" }),
    onData: async (session, env, message) => (rec.data.push({ env: structuredClone(env), message, session }), { code: 250, enhanced: "2.6.0", text: "Queued" }),
    onSecure: async (s) => void rec.secure.push(structuredClone(s)),
    onLog: (_s, e, d) => void rec.log.push([e, d]),
    ...hooks,
  };
  const receiver = new SmtpReceiver(baseOptions(extra), all);
  const server = net.createServer((s) => receiver.handle(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const h: Harness = {
    port,
    receiver,
    rec,
    connect: () => RawClient.connect(port),
    async ready() {
      const c = await RawClient.connect(port);
      assert.equal(await c.reply(), GREETING);
      await c.send("EHLO client.example\r\n");
      return c;
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await receiver.closeAll(1000);
    },
  };
  open.push(h);
  return h;
}

after(async () => {
  await Promise.all(open.map((h) => h.close()));
});

// ---- PKI (OpenSSL CLI, never Sealpost's own code) ----------------------------------

let root: OpenSslCa;
let issuing: OpenSslCa;
let serverCert: IssuedCert;
let clientCert: IssuedCert;
let serverContext: tls.SecureContext;

before(async () => {
  root = await OpenSslCa.createRoot({ name: "C=US,O=Sealpost Test,CN=Smtp Test Root", keyType: "ec-p256" });
  issuing = await root.createIntermediate({ name: "C=US,O=Sealpost Test,CN=Smtp Test Issuing", keyType: "ec-p256" });
  serverCert = issuing.issueLeaf({ subject: `CN=${FQDN}`, dnsNames: [FQDN], keyType: "ec-p256", eku: "both" });
  clientCert = issuing.issueLeaf({ subject: "CN=mail.partner.test", dnsNames: ["mail.partner.test"], keyType: "ec-p256", eku: "both" });
  serverContext = tls.createSecureContext({ cert: serverCert.certPem + issuing.certPem, key: serverCert.keyPem });
});

after(() => root?.cleanup());

const der = (pem: string): Buffer => new X509Certificate(pem).raw;

// ---- greeting, EHLO, a transaction ---------------------------------------------------

test("greeting at once, EHLO keywords; STARTTLS only with a context", async () => {
  const plain = await startServer();
  const c = await plain.connect();
  assert.equal(await c.reply(), GREETING);
  assert.equal(await c.send("EHLO client.example\r\n"), EHLO_PLAIN);
  assert.equal(await c.send("HELO client.example\r\n"), `250 ${FQDN} Hello [127.0.0.1]\r\n`);
  assert.equal(await c.send("QUIT\r\n"), `221 2.0.0 ${FQDN} Service closing transmission channel\r\n`);
  await c.waitClosed();

  const secure = await startServer({ secureContext: () => serverContext });
  const d = await secure.connect();
  assert.equal(await d.reply(), GREETING);
  assert.equal(await d.send("ehlo client.example\r\n"), EHLO_TLS);
  // A context that is temporarily unavailable: not offered, and 454 if asked anyway.
  const flaky = await startServer({ secureContext: () => undefined });
  const e = await flaky.ready();
  assert.equal(await e.send("EHLO again\r\n"), EHLO_PLAIN);
  assert.equal(await e.send("STARTTLS\r\n"), "454 4.7.0 TLS not available due to temporary reason\r\n");
  assert.equal(await (await plain.ready()).send("STARTTLS\r\n"), "502 5.5.1 STARTTLS not offered\r\n");
});

test("a pipelined transaction delivers the exact unstuffed bytes; the protocol log records it in order", async () => {
  const h = await startServer();
  const c = await h.connect();
  assert.equal(await c.reply(), GREETING);
  c.write("EHLO client.example\r\nMAIL FROM:<sender@partner.test> SIZE=120 BODY=8BITMIME\r\nRCPT TO:<a@sealpost.test> NOTIFY=FAILURE\r\nRCPT TO:<\"b c\"@sealpost.test>\r\nDATA\r\n");
  assert.equal(await c.reply(), EHLO_PLAIN);
  assert.equal(await c.reply(), SENDER_OK);
  assert.equal(await c.reply(), RCPT_OK);
  assert.equal(await c.reply(), RCPT_OK);
  assert.equal(await c.reply(), START_DATA);
  const body = "Subject: test\r\n\r\n..starts with a dot\r\n...two dots\r\n.\r\n";
  // Sent in small pieces so that CRLF and the final dot line straddle writes.
  const wire = body.replace(/\r\n\.\r\n$/, "") + "\r\n.\r\n";
  for (let i = 0; i < wire.length; i += 7) c.write(wire.slice(i, i + 7));
  assert.equal(await c.reply(), QUEUED);
  assert.equal(h.rec.data.length, 1);
  const got = h.rec.data[0]!;
  assert.equal(got.message.toString("latin1"), "Subject: test\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\n".replace(/\.\r\n$/, ""));
  assert.deepEqual(got.env, {
    mailFrom: "sender@partner.test",
    mailParams: { size: 120, body: "8BITMIME" },
    rcptTo: [
      { address: "a@sealpost.test", params: { notify: ["FAILURE"] } },
      { address: '"b c"@sealpost.test', params: {} },
    ],
  });
  assert.equal(got.session.heloName, "client.example");
  assert.equal(got.session.esmtp, true);
  assert.match(got.session.id, /^[0-9a-f]{16}$/);
  // The transaction was reset: a new one may start, and it counted.
  assert.equal(await c.send("MAIL FROM:<>\r\n"), SENDER_OK);
  assert.equal(h.rec.mail[1]?.address, "");
  assert.equal(await c.send("RSET\r\n"), "250 2.0.0 Reset OK\r\n");
  assert.equal(got.session.messages, 1);
  assert.equal(await c.send("QUIT\r\n"), `221 2.0.0 ${FQDN} Service closing transmission channel\r\n`);
  await c.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  const log = h.rec.log;
  assert.deepEqual(log[0], ["+", ""]);
  assert.deepEqual(log[1], [">", GREETING.trimEnd()]);
  assert.deepEqual(log[2], ["<", "EHLO client.example"]);
  assert.deepEqual(log.at(-1), ["-", ""]);
  assert.ok(!log.some(([, d]) => d.includes("starts with a dot")), "message content is not logged");
  assert.deepEqual(
    log.filter(([e]) => e === "<").map(([, d]) => d),
    ["EHLO client.example", "MAIL FROM:<sender@partner.test> SIZE=120 BODY=8BITMIME", "RCPT TO:<a@sealpost.test> NOTIFY=FAILURE", 'RCPT TO:<"b c"@sealpost.test>', "DATA", "MAIL FROM:<>", "RSET", "QUIT"],
  );
  const sent = log.filter(([e]) => e === ">").map(([, d]) => d);
  assert.deepEqual(sent.slice(1, 8), EHLO_PLAIN.trimEnd().split("\r\n"));
  assert.equal(h.receiver.activeSessions, 0);
});

test("client speaking before the greeting is answered after it, in order", async () => {
  const h = await startServer({}, { onConnect: () => new Promise((r) => setTimeout(() => r(undefined), 100)) });
  const c = await h.connect();
  c.write("EHLO early.example\r\nNOOP\r\n");
  assert.equal(await c.reply(), GREETING);
  assert.equal(await c.reply(), EHLO_PLAIN);
  assert.equal(await c.reply(), "250 2.0.0 OK\r\n");
  const refused = await startServer({}, { onConnect: async () => ({ code: 554, enhanced: "5.7.1", text: "Access denied" }) });
  const d = await refused.connect();
  assert.equal(await d.reply(), "554 5.7.1 Access denied\r\n");
  await d.waitClosed();
});

test("a socket from a pauseOnConnect server (handed over unread) is read", async () => {
  const h = await startServer();
  const server = net.createServer({ pauseOnConnect: true }, (s) => h.receiver.handle(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const c = await RawClient.connect((server.address() as net.AddressInfo).port);
    assert.equal(await c.reply(), GREETING);
    assert.equal(await c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
    c.end();
  } finally {
    server.close();
  }
});

// ---- STARTTLS ------------------------------------------------------------------------

test("STARTTLS with a client certificate: chain DER leaf first, protocol, state reset, no second STARTTLS", async () => {
  const h = await startServer({ secureContext: () => serverContext });
  const c = await h.ready();
  assert.equal(await c.send("STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  const t = await c.startTls({ cert: clientCert.certPem + issuing.certPem, key: clientCert.keyPem });
  assert.ok(t.encrypted);
  // RFC 3207: the EHLO before TLS is forgotten.
  assert.equal(await c.send("MAIL FROM:<a@partner.test>\r\n"), "503 5.5.1 Bad sequence of commands: send EHLO or HELO first\r\n");
  assert.equal(await c.send("EHLO mail.partner.test\r\n"), EHLO_PLAIN);
  assert.equal(await c.send("STARTTLS\r\n"), "503 5.5.1 Bad sequence of commands: TLS already active\r\n");
  assert.equal(await c.send("MAIL FROM:<a@partner.test>\r\n"), SENDER_OK);
  assert.equal(h.rec.secure.length, 1);
  const facts = h.rec.secure[0]!.tls!;
  assert.ok(facts.protocol === "TLSv1.3" || facts.protocol === "TLSv1.2", facts.protocol);
  assert.equal(facts.resumed, false);
  assert.ok(facts.cipher.length > 0);
  assert.ok(facts.peerCertificates.length >= 2);
  assert.ok(Buffer.from(facts.peerCertificates[0]!).equals(der(clientCert.certPem)), "leaf first, as DER");
  assert.ok(Buffer.from(facts.peerCertificates[1]!).equals(der(issuing.certPem)), "then the intermediate the client sent");
  assert.equal(h.rec.secure[0]!.heloName, undefined);
  const star = h.rec.log.filter(([e]) => e === "*").map(([, d]) => d);
  assert.ok(star.some((d) => d.startsWith(`TLS negotiated ${facts.protocol} ${facts.cipher}`)), star.join("|"));
});

test("STARTTLS without a client certificate: peerCertificates is empty; TLS 1.2 minimum honoured", async () => {
  const h = await startServer({ secureContext: () => serverContext });
  const c = await h.ready();
  await c.send("STARTTLS\r\n");
  await c.startTls({ maxVersion: "TLSv1.2" });
  assert.equal(await c.send("EHLO x.example\r\n"), EHLO_PLAIN);
  const facts = h.rec.secure[0]!.tls!;
  assert.equal(facts.protocol, "TLSv1.2");
  assert.deepEqual(facts.peerCertificates, []);

  // minTlsVersion above the context's own minimum: refused right after the handshake, before any command.
  const only13 = await startServer({ secureContext: () => serverContext, minTlsVersion: "TLSv1.3" });
  const d = await only13.ready();
  await d.send("STARTTLS\r\n");
  await d.startTls({ maxVersion: "TLSv1.2" });
  assert.equal(await d.reply(), `421 4.7.0 ${FQDN} TLS protocol below the minimum TLSv1.3; closing connection\r\n`);
  await d.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(only13.rec.log.some(([e, m]) => e === "*" && m === "TLS refused: TLSv1.2 is below the minimum TLSv1.3"));
  assert.equal(only13.rec.secure.length, 0, "onSecure is not called");
  assert.equal(only13.receiver.activeSessions, 0);
  // A context that itself refuses TLS 1.2 fails the handshake: logged, closed, no crash.
  const strictContext = tls.createSecureContext({ cert: serverCert.certPem, key: serverCert.keyPem, minVersion: "TLSv1.3" });
  const strict = await startServer({ secureContext: () => strictContext });
  const e = await strict.ready();
  await e.send("STARTTLS\r\n");
  await assert.rejects(e.startTls({ maxVersion: "TLSv1.2" }));
  await e.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(strict.rec.log.some(([ev, m]) => ev === "*" && m.startsWith("TLS handshake failed: ")), JSON.stringify(strict.rec.log));
  assert.equal(strict.receiver.activeSessions, 0);
});

test("TLS session resumption with a requested client certificate works (1.2 and 1.3); resumed sessions keep the leaf", async () => {
  const h = await startServer({ secureContext: () => serverContext });
  for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
    h.rec.secure.length = 0;
    let session: Buffer | undefined;
    for (let round = 0; round < 2; round++) {
      const c = await h.ready();
      await c.send("STARTTLS\r\n");
      await c.startTls({ cert: clientCert.certPem + issuing.certPem, key: clientCert.keyPem, maxVersion: version, session });
      assert.equal(await c.send("EHLO mail.partner.test\r\n"), EHLO_PLAIN);
      if (round === 0) {
        session = c.tlsSession;
        assert.ok(session, `${version}: the server issued a session`);
      }
      await c.send("QUIT\r\n");
      await c.waitClosed();
    }
    const [full, resumed] = h.rec.secure.map((s) => s.tls!);
    assert.equal(full!.resumed, false);
    assert.equal(full!.peerCertificates.length, 2);
    assert.equal(resumed!.resumed, true, `${version} resumed`);
    assert.equal(resumed!.protocol, version);
    assert.ok(resumed!.peerCertificates.length >= 1, "the leaf survives resumption");
    assert.ok(Buffer.from(resumed!.peerCertificates[0]!).equals(der(clientCert.certPem)));
  }
  assert.ok(!h.rec.log.some(([e, d]) => e === "*" && d.startsWith("TLS handshake failed")), "no failed handshakes");
});

test("commands pipelined after STARTTLS are discarded, never executed (CVE-2011-0411)", async () => {
  const h = await startServer({ secureContext: () => serverContext });
  const c = await h.ready();
  c.write("STARTTLS\r\nMAIL FROM:<a@b.c>\r\n");
  assert.equal(await c.reply(), "220 2.0.0 Ready to start TLS\r\n");
  await new Promise((r) => setTimeout(r, 100));
  await c.startTls(); // asserts nothing followed the 220 in plaintext
  await c.silence(150); // and nothing arrives over TLS either
  assert.equal(await c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
  assert.equal(c.unread, "");
  assert.equal(h.rec.mail.length, 0, "onMailFrom was not called");
  assert.ok(h.rec.log.some(([e, d]) => e === "*" && /discarded 19 octets/.test(d)));
  assert.ok(!h.rec.log.some(([e, d]) => e === "<" && d.startsWith("MAIL")));
});

test("plaintext after STARTTLS (not in the same read) is TLS input: the handshake fails, is logged, the session closes", async () => {
  const h = await startServer({ secureContext: () => serverContext });
  const c = await h.ready();
  assert.equal(await c.send("STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  c.write("MAIL FROM:<a@b.c>\r\n");
  await c.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.rec.mail.length, 0);
  assert.ok(h.rec.log.some(([e, d]) => e === "*" && d.startsWith("TLS handshake failed: ")), JSON.stringify(h.rec.log));
  assert.equal(h.rec.log.at(-1)?.[0], "-");
  assert.equal(h.receiver.activeSessions, 0);
});

test("a client that hangs up at STARTTLS or never starts the handshake: session ends, logged, not leaked", async () => {
  const h = await startServer({ secureContext: () => serverContext, idleTimeoutMs: 300 });
  const gone = await h.ready();
  gone.write("STARTTLS\r\n");
  gone.sock.destroy();
  const silent = await h.ready();
  assert.equal(await silent.send("STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  await silent.waitClosed(3000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.receiver.activeSessions, 0);
  assert.equal(h.rec.log.filter(([e]) => e === "-").length, 2);
  assert.ok(h.rec.log.some(([e, d]) => e === "*" && d === "TLS handshake failed: timeout"), JSON.stringify(h.rec.log));

  // The connection dies between the 220 and its write (deterministically: from the log hook).
  let raw: net.Socket | undefined;
  let ended = 0;
  const receiver = new SmtpReceiver(baseOptions({ secureContext: () => serverContext }), {
    onMailFrom: async () => ({ code: 250, text: "OK" }),
    onRcptTo: async () => ({ code: 250, text: "OK" }),
    onData: async () => ({ code: 250, text: "OK" }),
    onLog: (_s, e, d) => {
      if (e === ">" && d.startsWith("220 2.0.0")) raw?.destroy();
      if (e === "-") ended++;
    },
  });
  const server = net.createServer((sock) => ((raw = sock), receiver.handle(sock)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const c = await RawClient.connect((server.address() as net.AddressInfo).port);
    await c.reply();
    c.write("STARTTLS\r\n");
    await c.waitClosed();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(receiver.activeSessions, 0, "the session is not leaked");
    assert.equal(ended, 1);
  } finally {
    server.close();
  }
});

test("destroying the raw TCP socket after STARTTLS ends the session (connection timeout in the caller)", async () => {
  const h = await startServer({ secureContext: () => serverContext });
  let raw: net.Socket | undefined;
  const server = net.createServer((s) => ((raw = s), h.receiver.handle(s)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const c = await RawClient.connect((server.address() as net.AddressInfo).port);
    await c.reply();
    await c.send("STARTTLS\r\n");
    await c.startTls();
    assert.equal(await c.send("EHLO x.example\r\n"), EHLO_PLAIN);
    assert.equal(h.receiver.activeSessions, 1);
    raw!.destroy();
    await c.waitClosed();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.receiver.activeSessions, 0);
    assert.equal(h.rec.log.at(-1)?.[0], "-");
  } finally {
    server.close();
  }
});

// ---- DATA: smuggling and content limits ---------------------------------------------------------

async function toData(c: RawClient): Promise<void> {
  c.write("MAIL FROM:<s@partner.test>\r\nRCPT TO:<r@sealpost.test>\r\nDATA\r\n");
  assert.equal(await c.reply(), SENDER_OK);
  assert.equal(await c.reply(), RCPT_OK);
  assert.equal(await c.reply(), START_DATA);
}

test("SMTP smuggling: no false end of data; the message is refused after the real end; onData is not called", async () => {
  const forms: Array<[string, string]> = [
    ["<LF>.<LF>", "\n.\n"],
    ["<CR><LF>.<LF>", "\r\n.\n"],
    ["<LF>.<CR><LF>", "\n.\r\n"],
    ["bare LF", "\n"],
    ["bare CR", "\r"],
    ["<CR>.<CR>", "\r.\r"],
  ];
  const h = await startServer();
  const c = await h.ready();
  for (const [name, form] of forms) {
    await toData(c);
    c.write(`Subject: ${name}\r\n\r\nhello${form}MAIL FROM:<smuggled@evil.test>\r\nRCPT TO:<victim@sealpost.test>\r\nDATA\r\n`);
    await c.silence(120); // the message has not ended
    c.write("forged\r\n.\r\n");
    assert.equal(await c.reply(), SMUGGLING, name);
    assert.equal(await c.send("NOOP\r\n"), "250 2.0.0 OK\r\n", `${name}: in step afterwards`);
  }
  assert.equal(h.rec.data.length, 0, "onData never called");
  assert.ok(!h.rec.mail.some((m) => m.address.includes("smuggled")), "smuggled commands never ran");
  assert.equal(h.rec.log.filter(([e, d]) => e === "*" && d.startsWith("message refused: bare")).length, forms.length);
});

test("NUL, over-long lines, oversize messages are refused after the end; SIZE= over the maximum is refused at MAIL", async () => {
  const h = await startServer({ maxMessageSize: 10_000 });
  const c = await h.ready();
  await toData(c);
  c.write("a\0b\r\n.\r\n");
  assert.equal(await c.reply(), "550 5.6.0 Message refused: NUL octet in the message\r\n");
  await toData(c);
  c.write("x".repeat(999) + "\r\n.\r\n");
  assert.equal(await c.reply(), "550 5.6.0 Message refused: line longer than 998 characters (RFC 5322)\r\n");
  await toData(c);
  const line = "y".repeat(98) + "\r\n";
  for (let i = 0; i < 150; i++) c.write(line); // 15,000 octets
  c.write(".\r\n");
  assert.equal(await c.reply(), "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  assert.equal(h.rec.data.length, 0);
  // Exactly at the maximum is fine.
  await toData(c);
  c.write("z".repeat(9_998) + "\r\n.\r\n".replace(/^/, "")); // one line of 9,998 + CRLF = 10,000 octets... but too long a line
  assert.equal(await c.reply(), "550 5.6.0 Message refused: line longer than 998 characters (RFC 5322)\r\n");
  await toData(c);
  c.write(("z".repeat(98) + "\r\n").repeat(100) + ".\r\n");
  assert.equal(await c.reply(), QUEUED);
  assert.equal(h.rec.data[0]?.message.length, 10_000);
  assert.equal(await c.send("MAIL FROM:<s@partner.test> SIZE=10001\r\n"), "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  assert.equal(h.rec.mail.length, 5, "the hook was not asked for the oversize MAIL");
});

// ---- command framing and sequence ------------------------------------------------------------

test("command lines: too long, bare LF, CR/NUL inside; none executed", async () => {
  const h = await startServer();
  const c = await h.ready();
  assert.equal(await c.send("NOOP " + "x".repeat(995) + "\r\n"), "500 5.5.2 Line too long\r\n");
  assert.equal(await c.send("NOOP " + "x".repeat(993) + "\r\n"), "250 2.0.0 OK\r\n", "1000 octets with CRLF is allowed");
  c.write("MAIL FROM:<a@b.c> " + "X".repeat(3000));
  await c.silence(80);
  assert.equal(await c.send("\r\n"), "500 5.5.2 Line too long\r\n");
  assert.equal(await c.send("MAIL FROM:<a@b.c>\n"), "500 5.5.2 Syntax error: command line must end with <CRLF>\r\n");
  assert.equal(await c.send("MAIL FROM:<a@b.c>\rRCPT TO:<x@y.z>\r\n"), "500 5.5.2 Syntax error: CR, NUL or invalid UTF-8 in the command line\r\n");
  assert.equal(await c.send("NOOP\0\r\n"), "500 5.5.2 Syntax error: CR, NUL or invalid UTF-8 in the command line\r\n");
  c.write(Buffer.concat([Buffer.from("MAIL FROM:<j"), Buffer.from([0xf6]), Buffer.from("rg@b.c> SMTPUTF8\r\n")]));
  assert.equal(await c.reply(), "500 5.5.2 Syntax error: CR, NUL or invalid UTF-8 in the command line\r\n");
  assert.equal(h.rec.mail.length, 0);
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), SENDER_OK);
});

test("sequence gates and the small commands", async () => {
  const h = await startServer({}, { onRcptTo: async (_s, _e, a) => (a.startsWith("bad") ? { code: 550, enhanced: "5.1.1", text: "No such user" } : { code: 250, enhanced: "2.1.5", text: "Recipient OK" }) });
  const c = await h.connect();
  await c.reply();
  const needHelo = "503 5.5.1 Bad sequence of commands: send EHLO or HELO first\r\n";
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), needHelo);
  assert.equal(await c.send("RCPT TO:<a@b.c>\r\n"), needHelo);
  assert.equal(await c.send("EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
  await c.send("EHLO client.example\r\n");
  assert.equal(await c.send("RCPT TO:<a@b.c>\r\n"), "503 5.5.1 Bad sequence of commands: need MAIL before RCPT or DATA\r\n");
  assert.equal(await c.send("DATA\r\n"), "503 5.5.1 Bad sequence of commands: need MAIL before RCPT or DATA\r\n");
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), SENDER_OK);
  assert.equal(await c.send("DATA\r\n"), "503 5.5.1 Bad sequence of commands: need RCPT before DATA\r\n");
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), "503 5.5.1 Bad sequence of commands: sender already specified\r\n");
  assert.equal(await c.send("RCPT TO:<bad@sealpost.test>\r\n"), "550 5.1.1 No such user\r\n");
  assert.equal(await c.send("DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
  assert.equal(await c.send("RCPT TO:<>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
  assert.equal(await c.send("RCPT TO:<x@y.z> FOO=1\r\n"), "555 5.5.4 Unsupported MAIL FROM or RCPT TO parameter\r\n");
  assert.equal(await c.send("RCPT TO:<jörg@y.z>\r\n"), "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n");
  assert.equal(await c.send("RSET\r\n"), "250 2.0.0 Reset OK\r\n");
  assert.equal(await c.send("MAIL FROM:<a b@c.d>\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
  assert.equal(await c.send("MAIL FROM:<jörg@bücher.test> SMTPUTF8\r\n"), SENDER_OK);
  assert.deepEqual(h.rec.mail.at(-1), { address: "jörg@bücher.test", params: { smtputf8: true } });
  assert.equal(await c.send("RCPT TO:<用户@例子.测试>\r\n"), RCPT_OK);
  assert.equal(await c.send("VRFY postmaster\r\n"), "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  assert.equal(await c.send("HELP\r\n"), "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS\r\n");
  assert.equal(await c.send("EXPN staff\r\n"), "502 5.5.1 Command not implemented\r\n");
  assert.equal(await c.send("XYZZY\r\n"), "500 5.5.2 Syntax error, command unrecognized\r\n");
  assert.equal(await c.send("DATA now\r\n"), "501 5.5.4 Syntax error: no parameters allowed\r\n");
});

test("too many recipients: 452 4.5.3 without asking the hook", async () => {
  const h = await startServer({ maxRecipients: 2 });
  const c = await h.ready();
  c.write("MAIL FROM:<s@p.test>\r\nRCPT TO:<a@s.test>\r\nRCPT TO:<b@s.test>\r\nRCPT TO:<c@s.test>\r\nDATA\r\n");
  assert.equal(await c.reply(), SENDER_OK);
  assert.equal(await c.reply(), RCPT_OK);
  assert.equal(await c.reply(), RCPT_OK);
  assert.equal(await c.reply(), "452 4.5.3 Too many recipients\r\n");
  assert.equal(await c.reply(), START_DATA);
  assert.deepEqual(h.rec.rcpt, ["a@s.test", "b@s.test"]);
  c.write(".\r\n");
  assert.equal(await c.reply(), QUEUED);
  assert.equal(h.rec.data[0]?.env.rcptTo.length, 2);
});

test("too many unrecognized commands: 421 4.7.0 and close", async () => {
  const h = await startServer({ maxBadCommands: 3 });
  const c = await h.ready();
  c.write("FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
  assert.equal(await c.reply(), "500 5.5.2 Syntax error, command unrecognized\r\n");
  assert.equal(await c.reply(), "500 5.5.2 Syntax error, command unrecognized\r\n");
  assert.equal(await c.reply(), `421 4.7.0 ${FQDN} Too many unrecognized commands, closing connection\r\n`);
  await c.waitClosed();
  assert.equal(c.unread, "");
});

// ---- limits ------------------------------------------------------------------------------------

test("idle timeout: 421 4.4.2 and close", async () => {
  const h = await startServer({ idleTimeoutMs: 300 });
  const c = await h.ready();
  const t0 = Date.now();
  assert.equal(await c.reply(2000), `421 4.4.2 ${FQDN} Timeout; closing connection\r\n`);
  assert.ok(Date.now() - t0 >= 250);
  await c.waitClosed();
});

test("a slow hook is not the client's idle time", async () => {
  const h = await startServer({ idleTimeoutMs: 200 }, { onMailFrom: () => new Promise((r) => setTimeout(() => r({ code: 250, enhanced: "2.1.0", text: "Sender OK" }), 500)) });
  const c = await h.ready();
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), SENDER_OK);
});

test("per-source and global connection limits: 421 4.7.0 at accept, counted per active session", async () => {
  const h = await startServer({ maxConnectionsPerSource: 2 });
  const a = await h.connect();
  const b = await h.connect();
  assert.equal(await a.reply(), GREETING);
  assert.equal(await b.reply(), GREETING);
  const third = await h.connect();
  assert.equal(await third.reply(), `421 4.7.0 ${FQDN} Too many connections, try again later\r\n`);
  await third.waitClosed();
  assert.equal(h.receiver.activeSessions, 2);
  await a.send("QUIT\r\n");
  await a.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  const fourth = await h.connect();
  assert.equal(await fourth.reply(), GREETING);

  const g = await startServer({ maxConnections: 1 });
  const one = await g.connect();
  assert.equal(await one.reply(), GREETING);
  const two = await g.connect();
  assert.equal(await two.reply(), `421 4.7.0 ${FQDN} Too many connections, try again later\r\n`);
  // Live option change: the next session sees it.
  g.receiver.updateOptions(baseOptions({ maxConnections: 5, maxMessageSize: 777 }));
  const three = await g.connect();
  assert.equal(await three.reply(), GREETING);
  assert.match(await three.send("EHLO x\r\n"), /250-SIZE 777\r\n/);
  assert.match(await one.send("EHLO x\r\n"), /250-SIZE 10000\r\n/, "a running session keeps its options");
});

// ---- hooks -------------------------------------------------------------------------------------

test("hook replies are sent exactly (single, multi-line, without enhanced); close:true closes", async () => {
  let mode = 0;
  const h = await startServer({}, {
    onMailFrom: async (): Promise<Reply> => {
      mode++;
      if (mode === 1) return { code: 451, enhanced: "4.7.5", text: "Cryptographic failure: partner certificate revoked" };
      if (mode === 2) return { code: 550, enhanced: "5.7.1", text: ["Domain Security required", "see https://example.test/ds", "for partner.test"] };
      if (mode === 3) return { code: 250, text: "OK without enhanced" };
      return { code: 554, enhanced: "5.7.1", text: "Go away", close: true };
    },
  });
  const c = await h.ready();
  assert.equal(await c.send("MAIL FROM:<a@partner.test>\r\n"), "451 4.7.5 Cryptographic failure: partner certificate revoked\r\n");
  assert.equal(await c.send("MAIL FROM:<a@partner.test>\r\n"), "550-5.7.1 Domain Security required\r\n550-5.7.1 see https://example.test/ds\r\n550 5.7.1 for partner.test\r\n");
  assert.equal(await c.send("MAIL FROM:<a@partner.test>\r\n"), "250 OK without enhanced\r\n");
  assert.equal(await c.send("RSET\r\n"), "250 2.0.0 Reset OK\r\n");
  c.write("MAIL FROM:<a@partner.test>\r\nNOOP\r\n");
  assert.equal(await c.reply(), "554 5.7.1 Go away\r\n");
  await c.waitClosed();
  assert.equal(c.unread, "", "nothing after a closing reply");
});

test("a throwing or malformed hook gives 451 4.3.0 (no error text), the session and the process go on", async () => {
  let n = 0;
  const h = await startServer({}, {
    onMailFrom: (): Promise<Reply> => {
      n++;
      if (n === 1) throw new Error("database password is hunter2");
      if (n === 2) return Promise.reject(new Error("queue disk full"));
      if (n === 3) return Promise.resolve({ code: 250, text: "x\r\n" } as Reply);
      return Promise.resolve({ nonsense: true } as unknown as Reply);
    },
    onData: async () => {
      throw new Error("spool broken");
    },
  });
  const c = await h.ready();
  const temp = "451 4.3.0 Temporary server error, try again later\r\n";
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), temp);
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), temp);
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), "250 x \r\n", "CR/LF in a hook's text cannot inject a reply");
  assert.equal(await c.send("RSET\r\n"), "250 2.0.0 Reset OK\r\n");
  assert.equal(await c.send("MAIL FROM:<a@b.c>\r\n"), temp);
  const star = h.rec.log.filter(([e]) => e === "*").map(([, d]) => d);
  assert.deepEqual(star, ["onMailFrom hook failed: database password is hunter2", "onMailFrom hook failed: queue disk full", "onMailFrom hook returned an invalid reply"]);
  assert.ok(!h.rec.log.some(([e, d]) => e === ">" && d.includes("hunter2")));
  // onData failing: 451 after the message, and the session is usable.
  const d = await (await startServer({}, { onData: async () => Promise.reject(new Error("spool broken")) })).ready();
  await toData(d);
  d.write("hi\r\n.\r\n");
  assert.equal(await d.reply(), temp);
  assert.equal(await d.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
});

test("pipelining with a slow hook: later commands wait, replies keep their order", async () => {
  const order: string[] = [];
  const h = await startServer({}, {
    onMailFrom: async () => {
      order.push("mail:start");
      await new Promise((r) => setTimeout(r, 100));
      order.push("mail:end");
      return { code: 250, enhanced: "2.1.0", text: "Sender OK" };
    },
    onRcptTo: async (_s, env, a) => (order.push(`rcpt:${a}:${env.mailFrom}`), { code: 250, enhanced: "2.1.5", text: "Recipient OK" }),
  });
  const c = await h.ready();
  c.write("MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nNOOP\r\nRCPT TO:<w@y.z>\r\n");
  assert.equal(await c.reply(), SENDER_OK);
  assert.equal(await c.reply(), RCPT_OK);
  assert.equal(await c.reply(), "250 2.0.0 OK\r\n");
  assert.equal(await c.reply(), RCPT_OK);
  assert.deepEqual(order, ["mail:start", "mail:end", "rcpt:x@y.z:a@b.c", "rcpt:w@y.z:a@b.c"]);
});

test("the protocol log over a TLS session: + > < > * < > - in order", async () => {
  const h = await startServer({ secureContext: () => serverContext });
  const c = await h.ready();
  await c.send("STARTTLS\r\n");
  await c.startTls({ cert: clientCert.certPem, key: clientCert.keyPem });
  await c.send("EHLO again.example\r\n");
  await c.send("QUIT\r\n");
  await c.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  const events = h.rec.log.map(([e]) => e).join("");
  assert.equal(events, "+><>>>>>>>><>*<>>>>>>><>-");
  assert.deepEqual(h.rec.log.find(([e]) => e === "*")?.[1].startsWith("TLS negotiated "), true);
  assert.equal(h.rec.secure[0]?.tls?.peerCertificates.length, 1, "only the leaf was sent");
});

test("closeAll: idle sessions get 421 4.3.2; a pending hook finishes and its reply goes first", async () => {
  let release!: () => void;
  const h = await startServer({}, {
    onMailFrom: () => new Promise<Reply>((r) => (release = () => r({ code: 250, enhanced: "2.1.0", text: "Sender OK" }))),
  });
  const idle = await h.ready();
  const busy = await h.ready();
  busy.write("MAIL FROM:<a@b.c>\r\n");
  await new Promise((r) => setTimeout(r, 50));
  const closing = h.receiver.closeAll(5000);
  assert.equal(await idle.reply(), `421 4.3.2 ${FQDN} Service shutting down, try again later\r\n`);
  release();
  assert.equal(await busy.reply(), SENDER_OK);
  assert.equal(await busy.reply(), `421 4.3.2 ${FQDN} Service shutting down, try again later\r\n`);
  await closing;
  assert.equal(h.receiver.activeSessions, 0);
});
