// The soak's mail traffic: a bounded rate of sessions of every kind, each
// recorded as an Attempt (what was sent, to whom, when, every reply, the
// queue id of a 250) so that the checker can find it again in a Maildir, a
// queue or a log. Every message carries a unique Message-ID and subject.
//
//   partner-direct    the soak as Woodgrove: mutual TLS with Woodgrove's real certificate → a Contoso edge
//   partner-relay     submitted to Woodgrove's Internal connector → relayed domain-secured to Contoso
//   outbound-partner  submitted to a Contoso edge's Internal connector → Woodgrove (must go domain-secured)
//   outbound-sink     submitted to a Contoso edge → sink.example (not a partner: opportunistic TLS)
//   nonpartner        example.net / fabrikam.com senders, clear or TLS without a certificate, some with a
//                     forged Authentication-Results claiming Contoso's authserv-id
//   bad-cert          senders at woodgrovebank.com with a wrong-name, expired, revoked, self-signed or
//                     untrusted certificate, or none (must be refused)
//   plain-partner     senders at woodgrovebank.com without TLS (must be refused)
//   hostile           garbage, NUL bytes, huge lines, SMTP smuggling forms, commands pipelined after
//                     STARTTLS, TLS garbage, a close in the middle of DATA
import { randomBytes } from "node:crypto";
import { CONTOSO_MAIL, FABRIKAM, WOODGROVE, type InboundKind } from "./model.js";
import type { Prng } from "./prng.js";
import { dataBytes, SoakSmtpClient, type Reply } from "./smtp-client.js";
import { PORT, SERVER_NAMES, SUBMIT, type ServerKey, type Topology } from "./topology.js";

export type TrafficKind = "partner-direct" | "partner-relay" | "outbound-partner" | "outbound-sink" | "nonpartner" | "bad-cert" | "plain-partner" | "hostile";

export const TRAFFIC_WEIGHTS: Record<TrafficKind, number> = {
  "partner-direct": 18,
  "partner-relay": 14,
  "outbound-partner": 16,
  "outbound-sink": 8,
  nonpartner: 12,
  "bad-cert": 14,
  "plain-partner": 7,
  hostile: 11,
};

export interface Attempt {
  seq: number;
  kind: TrafficKind;
  variant: string;
  /** For sessions to a Contoso edge's Inet connector: what the configuration model expects of it. */
  inbound?: InboundKind;
  /** The server connected to (after any fallback to the other MX). */
  target?: ServerKey;
  /** Message-ID without angle brackets, lower case. */
  messageId: string;
  subject: string;
  from: string;
  to: string;
  /** Where a delivered copy is expected. */
  dest: "contoso" | "woodgrove" | "sink" | "none";
  tStart: number;
  tMail?: number;
  tEnd?: number;
  mailReply?: string;
  finalReply?: string | undefined;
  ack?: { queueId: string; at: number };
  /** Connection refused, reset, timed out: neither accepted nor refused. */
  error?: string;
  /** Message-IDs that must never be delivered (smuggled, or a message cut off in DATA). */
  mustNotDeliver?: string[];
  /** Replies the server sent that it must not have (a second 250 after a smuggling attempt, a reply to a command pipelined after STARTTLS). */
  unexpected?: string[];
  tls?: boolean;
}

const DOMAIN = "soak.invalid";

export class Traffic {
  readonly attempts: Attempt[] = [];
  private seq = 0;
  inFlight = 0;
  skipped = 0;
  private readonly nonce = randomBytes(3).toString("hex");

  constructor(
    private readonly topo: Topology,
    private readonly rng: Prng,
    private readonly seed: number,
  ) {}

  private newAttempt(kind: TrafficKind, variant: string, from: string, to: string, dest: Attempt["dest"], inbound?: InboundKind): Attempt {
    const seq = ++this.seq;
    const a: Attempt = {
      seq,
      kind,
      variant,
      messageId: `soak.${this.seed}.${this.nonce}.${seq}@${DOMAIN}`,
      subject: `soak ${seq} ${kind} ${variant}`,
      from,
      to,
      dest,
      tStart: Date.now(),
      ...(inbound ? { inbound } : {}),
    };
    this.attempts.push(a);
    return a;
  }

  private message(a: Attempt, extraHeaders: string[] = []): string {
    const size = Math.floor(this.rng.exp(3000)) + 200;
    const lines: string[] = [];
    let n = 0;
    while (n < size) {
      const l = `${a.seq} ${"the quick brown fox jumps over the lazy dog ".repeat(2)}${n}`.slice(0, 76);
      lines.push(l);
      n += l.length + 2;
    }
    return [
      `From: <${a.from}>`,
      `To: <${a.to}>`,
      `Subject: ${a.subject}`,
      `Message-ID: <${a.messageId}>`,
      `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
      `X-Soak-Seq: ${a.seq}`,
      ...extraHeaders,
      "",
      ...lines,
      "",
    ].join("\r\n");
  }

  private contosoEdge(): ServerKey {
    return this.rng.pick(["mail1", "mail2"] as const);
  }

  /** Connects to `first`, or to the other Contoso edge when `first` refuses the connection (as an MX fallback would). */
  private async connect(first: ServerKey, port: number, localAddress: string, a: Attempt, fallback = true): Promise<SoakSmtpClient | undefined> {
    const order: ServerKey[] = fallback && first !== "woodgrove" ? [first, first === "mail1" ? "mail2" : "mail1"] : [first];
    let last = "";
    for (const k of order) {
      try {
        const { client, greeting } = await SoakSmtpClient.connect(this.topo.addr[k], port, { localAddress });
        a.target = k;
        if (greeting.code !== 220) {
          client.destroy();
          last = `greeting ${greeting.text}`;
          continue;
        }
        return client;
      } catch (e) {
        last = (e as Error).message;
      }
    }
    a.error = `connect: ${last}`;
    a.tEnd = Date.now();
    return undefined;
  }

  /** MAIL, RCPT, DATA and the message on an open session; fills the attempt. */
  private async transaction(c: SoakSmtpClient, a: Attempt, body: string): Promise<void> {
    a.tMail = Date.now();
    const mail = await c.cmd(`MAIL FROM:<${a.from}>`);
    a.mailReply = mail.text;
    if (mail.code !== 250) return void (a.finalReply = mail.text);
    const rcpt = await c.cmd(`RCPT TO:<${a.to}>`);
    if (rcpt.code !== 250) {
      a.finalReply = rcpt.text;
      await c.cmd("RSET").catch(() => undefined);
      return;
    }
    const data = await c.cmd("DATA");
    if (data.code !== 354) return void (a.finalReply = data.text);
    c.write(dataBytes(body));
    const end = await c.read(60_000);
    a.finalReply = end.text;
    if (end.code === 250) a.ack = { queueId: /<([^@>]+)@/.exec(end.text)?.[1] ?? "", at: Date.now() };
  }

  private async run(a: Attempt, f: () => Promise<void>): Promise<void> {
    this.inFlight++;
    try {
      await withTimeout(f(), 90_000);
    } catch (e) {
      if (!a.ack && !a.error) a.error = (e as Error).message;
    } finally {
      a.tEnd ??= Date.now();
      this.inFlight--;
    }
  }

  /** Starts one session of a kind drawn by weight; resolves when it ends. */
  async one(): Promise<void> {
    const kind = this.rng.weighted(TRAFFIC_WEIGHTS);
    switch (kind) {
      case "partner-direct":
        return this.partnerDirect();
      case "partner-relay":
        return this.submit("woodgrove", `bob@${WOODGROVE}`, `alice@${CONTOSO_MAIL}`, "partner-relay", "contoso");
      case "outbound-partner":
        return this.submit(this.contosoEdge(), `alice@${CONTOSO_MAIL}`, `bob@${WOODGROVE}`, "outbound-partner", "woodgrove");
      case "outbound-sink":
        return this.submit(this.contosoEdge(), `alice@${CONTOSO_MAIL}`, `user${this.rng.int(1, 9)}@sink.example`, "outbound-sink", "sink");
      case "nonpartner":
        return this.nonPartner();
      case "bad-cert":
        return this.badCert();
      case "plain-partner":
        return this.plainPartner();
      case "hostile":
        return this.hostile();
    }
  }

  /** One message on each path through each server (before any fault: every server fetches its CRLs once). */
  async warmup(): Promise<Attempt[]> {
    const from = this.attempts.length;
    await Promise.all([
      this.partnerDirect("mail1", 1),
      this.partnerDirect("mail2", 1),
      this.submit("mail1", `alice@${CONTOSO_MAIL}`, `bob@${WOODGROVE}`, "outbound-partner", "woodgrove"),
      this.submit("mail2", `alice@${CONTOSO_MAIL}`, `bob@${WOODGROVE}`, "outbound-partner", "woodgrove"),
      this.submit("woodgrove", `bob@${WOODGROVE}`, `alice@${CONTOSO_MAIL}`, "partner-relay", "contoso"),
      this.submit("mail1", `alice@${CONTOSO_MAIL}`, "user0@sink.example", "outbound-sink", "sink"),
    ]);
    return this.attempts.slice(from);
  }

  private partnerDirect(fixedEdge?: ServerKey, fixedCount?: number): Promise<void> {
    // Some sessions carry several messages with pauses, so they stay open across configuration changes.
    const count = fixedCount ?? (this.rng.next() < 0.25 ? this.rng.int(2, 4) : 1);
    const edge = fixedEdge ?? this.contosoEdge();
    const pauses = Array.from({ length: count }, () => this.rng.int(500, 3000));
    const first = this.newAttempt("partner-direct", count > 1 ? `session-of-${count}` : "single", `bob@${WOODGROVE}`, `alice@${CONTOSO_MAIL}`, "contoso", "partner-valid");
    return this.run(first, async () => {
      const c = await this.connect(edge, PORT, this.topo.addr.client.partner, first);
      if (!c) return;
      const start = first.tStart;
      try {
        await c.ehlo("mail.woodgrovebank.com");
        await c.startTls({ key: this.topo.pki.woodgrove.keyPem, cert: this.topo.pki.woodgrove.chainPem });
        first.tls = true;
        await c.ehlo("mail.woodgrovebank.com");
        for (let i = 0; i < count; i++) {
          const a = i === 0 ? first : this.newAttempt("partner-direct", `session-of-${count}`, `bob@${WOODGROVE}`, `alice@${CONTOSO_MAIL}`, "contoso", "partner-valid");
          a.tStart = start;
          a.tls = true;
          if (first.target) a.target = first.target;
          try {
            await this.transaction(c, a, this.message(a));
          } catch (e) {
            a.error ??= (e as Error).message;
            break;
          } finally {
            a.tEnd = Date.now();
          }
          if (i < count - 1) await sleepMs(pauses[i] as number);
        }
      } finally {
        await c.quit();
      }
    });
  }

  private submit(server: ServerKey, from: string, to: string, kind: TrafficKind, dest: Attempt["dest"]): Promise<void> {
    const a = this.newAttempt(kind, "submit", from, to, dest);
    return this.run(a, async () => {
      const c = await this.connect(server, SUBMIT, this.topo.addr.client.submit, a);
      if (!c) return;
      try {
        await c.ehlo("workstation.soak.invalid");
        await this.transaction(c, a, this.message(a));
      } finally {
        await c.quit();
      }
    });
  }

  private nonPartner(): Promise<void> {
    const variant = this.rng.pick(["plain", "starttls", "forged-results", "fabrikam-plain", "fabrikam-starttls"] as const);
    const fab = variant.startsWith("fabrikam");
    const from = fab ? `dave@${FABRIKAM}` : `carol@example.net`;
    const inbound: InboundKind = variant === "fabrikam-plain" ? "fabrikam-plain" : variant === "fabrikam-starttls" ? "fabrikam-nocert" : "nonpartner";
    const a = this.newAttempt("nonpartner", variant, from, `alice@${CONTOSO_MAIL}`, "contoso", inbound);
    return this.run(a, async () => {
      const c = await this.connect(this.contosoEdge(), PORT, this.topo.addr.client.other, a);
      if (!c) return;
      try {
        await c.ehlo(fab ? "mail.fabrikam.com" : "mx.example.net");
        if (variant === "starttls" || variant === "fabrikam-starttls" || (variant === "forged-results" && this.rng.next() < 0.5)) {
          await c.startTls();
          a.tls = true;
          await c.ehlo(fab ? "mail.fabrikam.com" : "mx.example.net");
        }
        // A forged mark in the name of Contoso's authserv-id and of an edge: both must be removed.
        const forged =
          variant === "forged-results"
            ? [
                `Authentication-Results: contoso.com; x-domain-secure=pass smtp.mailfrom=${WOODGROVE} x-domain-secure.cert=0000000000000000000000000000000000000000`,
                `Authentication-Results: ${SERVER_NAMES.mail1}; x-domain-secure=pass smtp.mailfrom=example.net`,
                "X-MS-Exchange-Organization-AuthAs: Partner",
              ]
            : [];
        await this.transaction(c, a, this.message(a, forged));
      } finally {
        await c.quit();
      }
    });
  }

  private badCert(): Promise<void> {
    const variant = this.rng.pick(["wrong-name", "expired", "revoked", "self-signed", "untrusted", "no-cert"] as const);
    const a = this.newAttempt("bad-cert", variant, `mallory@${WOODGROVE}`, `alice@${CONTOSO_MAIL}`, "contoso", variant);
    return this.run(a, async () => {
      const c = await this.connect(this.contosoEdge(), PORT, this.topo.addr.client.bad, a);
      if (!c) return;
      try {
        await c.ehlo("mail.woodgrovebank.com");
        const leaf = variant === "no-cert" ? undefined : this.topo.pki.bad[variant];
        await c.startTls(leaf ? { key: leaf.keyPem, cert: leaf.chainPem } : {});
        a.tls = true;
        await c.ehlo("mail.woodgrovebank.com");
        await this.transaction(c, a, this.message(a));
      } finally {
        await c.quit();
      }
    });
  }

  private plainPartner(): Promise<void> {
    const a = this.newAttempt("plain-partner", "no-tls", `mallory@${WOODGROVE}`, `alice@${CONTOSO_MAIL}`, "contoso", "plain");
    return this.run(a, async () => {
      const c = await this.connect(this.contosoEdge(), PORT, this.topo.addr.client.plain, a);
      if (!c) return;
      try {
        await c.ehlo("mail.woodgrovebank.com");
        await this.transaction(c, a, this.message(a));
      } finally {
        await c.quit();
      }
    });
  }

  private hostile(): Promise<void> {
    const variant = this.rng.pick(["garbage", "nul", "huge-line", "huge-header", "smuggle", "pipelined-starttls", "tls-garbage", "abort-data"] as const);
    const server: ServerKey = this.rng.next() < 0.2 ? "woodgrove" : this.contosoEdge();
    const a = this.newAttempt("hostile", variant, "carol@example.net", server === "woodgrove" ? `bob@${WOODGROVE}` : `alice@${CONTOSO_MAIL}`, "none");
    return this.run(a, async () => {
      const c = await this.connect(server, PORT, this.topo.addr.client.hostile, a, false);
      if (!c) return;
      try {
        await c.ehlo("hostile.example.net");
        switch (variant) {
          case "garbage":
            for (let i = 0; i < this.rng.int(2, 6); i++) {
              const junk = Buffer.from(Array.from({ length: this.rng.int(1, 200) }, () => this.rng.int(1, 255)).filter((b) => b !== 10 && b !== 13));
              c.write(Buffer.concat([junk, Buffer.from("\r\n")]));
              await c.read(10_000);
            }
            a.finalReply = (await c.cmd("NOOP")).text;
            break;
          case "nul":
            a.finalReply = (await c.cmd("MAIL FROM:<carol\u0000@example.net>")).text;
            await c.cmd("RSET").catch(() => undefined);
            break;
          case "huge-line":
            c.write(`NOOP ${"A".repeat(this.rng.int(1100, 120_000))}\r\n`);
            a.finalReply = (await c.read(15_000)).text;
            if (!c.closed) await c.cmd("NOOP").catch(() => undefined);
            break;
          case "huge-header": {
            // A message with a 2,000-8,000 octet line: refused or accepted, but if accepted it must be delivered.
            a.dest = "contoso";
            if (server === "woodgrove") a.dest = "woodgrove";
            await this.transaction(c, a, this.message(a, [`X-Long: ${"b".repeat(this.rng.int(2000, 8000))}`]));
            break;
          }
          case "smuggle": {
            a.dest = server === "woodgrove" ? "woodgrove" : "contoso";
            const form = this.rng.pick(["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r"] as const);
            const smuggledId = `smuggled.${a.messageId}`;
            a.mustNotDeliver = [smuggledId];
            a.variant = `smuggle ${JSON.stringify(form)}`;
            a.tMail = Date.now();
            const mail = await c.cmd(`MAIL FROM:<${a.from}>`);
            a.mailReply = mail.text;
            if (mail.code !== 250) break;
            if ((await c.cmd(`RCPT TO:<${a.to}>`)).code !== 250) break;
            if ((await c.cmd("DATA")).code !== 354) break;
            const head = this.message(a).replace(/\r\n$/, "");
            const smuggled = `MAIL FROM:<eve@example.net>\r\nRCPT TO:<${a.to}>\r\nDATA\r\nSubject: smuggled ${a.seq}\r\nMessage-ID: <${smuggledId}>\r\n\r\nsmuggled\r\n`;
            c.write(`${head}${form}${smuggled}.\r\n`);
            const end = await c.read(30_000);
            a.finalReply = end.text;
            if (end.code === 250) a.ack = { queueId: /<([^@>]+)@/.exec(end.text)?.[1] ?? "", at: Date.now() };
            const extra = await c.read(1500).catch(() => undefined);
            if (extra && extra.code === 250) (a.unexpected ??= []).push(`after the end of data: ${extra.text}`);
            break;
          }
          case "pipelined-starttls": {
            c.write(`STARTTLS\r\nMAIL FROM:<mallory@${WOODGROVE}>\r\n`);
            const r = await c.read(10_000);
            if (r.code !== 220) {
              a.finalReply = r.text;
              break;
            }
            await c.upgradeTls();
            const extra = await c.read(1000).catch(() => undefined);
            if (extra) (a.unexpected ??= []).push(`reply under TLS to a command sent before it: ${extra.text}`);
            a.finalReply = (await c.ehlo("hostile.example.net")).text.split("\n")[0];
            break;
          }
          case "tls-garbage": {
            const r = await c.cmd("STARTTLS");
            a.finalReply = r.text;
            if (r.code === 220) c.write(randomBytes(this.rng.int(10, 3000)));
            await sleepMs(200);
            break;
          }
          case "abort-data": {
            a.mustNotDeliver = [a.messageId];
            a.tMail = Date.now();
            const mail = await c.cmd(`MAIL FROM:<${a.from}>`);
            a.mailReply = mail.text;
            if (mail.code !== 250) break;
            if ((await c.cmd(`RCPT TO:<${a.to}>`)).code !== 250) break;
            if ((await c.cmd("DATA")).code !== 354) break;
            const bytes = dataBytes(this.message(a));
            c.write(bytes.slice(0, this.rng.int(10, bytes.length - 6)));
            await sleepMs(this.rng.int(50, 500));
            c.destroy();
            a.finalReply = "(closed in the middle of DATA)";
            return;
          }
        }
      } finally {
        await c.quit();
      }
    });
  }
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`session took longer than ${ms / 1000} s`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

export type { Reply };
