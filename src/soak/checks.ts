// The soak's verdict, once the faults stopped and the queues drained: every
// acknowledged message delivered (or still queued), duplicates within the
// allowance, no partner mail accepted or sent without verified mutual TLS
// (judged against the configuration in force at the time, ConfigModel),
// the invalid-certificate and plain partner senders refused, no smuggled or
// half-sent message delivered, no process dying on its own, and memory
// growth within the limit. It reads what the servers left: Maildirs, the
// outbound queues (Get-Message), message tracking and protocol logs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../admin/api.js";
import { Spool } from "../queue/spool.js";
import type { FaultRecord } from "./faults.js";
import { CONTOSO_MAIL, expectedInbound, WOODGROVE, type ConfigModel, type ContosoConfig, type Outcome } from "./model.js";
import type { MemoryResult } from "./monitor.js";
import type { SinkMessage } from "./sink.js";
import { ALL_SERVERS, CONTOSO_EDGES, SERVER_NAMES, type ServerKey, type Topology } from "./topology.js";
import type { Attempt } from "./traffic.js";

export interface Violation {
  invariant: string;
  detail: string;
  messageId?: string;
}

type Where = ServerKey | "sink";

export interface Copy {
  where: Where;
  file: string;
  at: number;
  messageId: string;
  returnPath: string;
  authResults: string[];
  /** Received fields, unfolded, top first. */
  received: string[];
  forgedMsHeader: boolean;
  /** Sink only: whether the message came over TLS. */
  tls?: boolean;
}

interface TrackingEvent {
  timestamp: string;
  eventId: string;
  messageId: string;
  internalId: string;
  sender: string;
  recipients: string[];
  connector: string;
  sessionId: string;
  clientIp: string;
  tls?: { protocol: string; cipher: string; certSubject?: string };
  domainSecure?: { verdict: string; partner?: string; reason?: string };
  detail?: string;
}

export interface CheckInput {
  topo: Topology;
  attempts: Attempt[];
  model: ConfigModel;
  faults: FaultRecord[];
  problems: string[];
  memory: MemoryResult[];
  memoryLimitMb: number;
  sink: SinkMessage[];
}

export interface CheckResult {
  violations: Violation[];
  counts: {
    sent: number;
    acknowledged: number;
    delivered: number;
    deliveredBy: Record<string, number>;
    queued: number;
    queuedWhere: Record<string, number>;
    lost: number;
    duplicates: number;
    exposedToKills: number;
    clearTextPartner: number;
    refusedAsExpected: number;
    /** Sessions whose only allowed outcome was a refusal (the invalid-certificate and plain partner senders, mostly). */
    mustRefuse: number;
    /** Of those: neither refused nor accepted (no server, connection lost). */
    mustRefuseNoAnswer: number;
    refusedBy: Record<string, number>;
    acceptedAsConfigAllowed: number;
    unavailable: number;
    hostile: number;
    hostileBy: Record<string, number>;
    reports: number;
    trackingEvents: number;
    protocolSessions: number;
  };
  duplicateList: string[];
}

const norm = (id: string) => id.trim().replace(/^<|>$/g, "").toLowerCase();
const domainOf = (a: string) => a.slice(a.lastIndexOf("@") + 1).toLowerCase();

/** Header fields of a message file (unfolded), in order. */
export function headerFields(raw: string): Array<{ name: string; value: string }> {
  const end = raw.search(/\r?\n\r?\n/);
  const head = end < 0 ? raw : raw.slice(0, end);
  const out: Array<{ name: string; value: string }> = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length > 0) (out[out.length - 1] as { value: string }).value += " " + line.trim();
    else {
      const i = line.indexOf(":");
      if (i > 0) out.push({ name: line.slice(0, i).toLowerCase(), value: line.slice(i + 1).trim() });
    }
  }
  return out;
}

function copyOf(where: Where, file: string, raw: string, at: number, tls?: boolean): Copy {
  const f = headerFields(raw);
  const get = (n: string) => f.filter((x) => x.name === n).map((x) => x.value);
  return {
    where,
    file,
    at,
    messageId: norm(get("message-id")[0] ?? ""),
    returnPath: (get("return-path")[0] ?? "").replace(/^<|>$/g, "").toLowerCase(),
    authResults: get("authentication-results"),
    received: get("received"),
    forgedMsHeader: f.some((x) => x.name.startsWith("x-ms-exchange-organization-")),
    ...(tls !== undefined ? { tls } : {}),
  };
}

/** Every message file of a server's Maildirs (new/ and cur/ of each domain's mailboxes). */
export function* maildirFiles(dataDir: string): Generator<string> {
  const root = path.join(dataDir, "maildir");
  if (!fs.existsSync(root)) return;
  for (const domain of fs.readdirSync(root)) {
    for (const box of fs.readdirSync(path.join(root, domain))) {
      for (const sub of ["new", "cur"]) {
        const d = path.join(root, domain, box, sub);
        if (!fs.existsSync(d)) continue;
        for (const name of fs.readdirSync(d)) yield path.join(d, name);
      }
    }
  }
}

function maildirCopies(where: ServerKey, dataDir: string): Copy[] {
  const out: Copy[] = [];
  for (const file of maildirFiles(dataDir)) {
    const raw = fs.readFileSync(file, "latin1");
    out.push(copyOf(where, file, raw, fs.statSync(file).mtimeMs));
  }
  return out;
}

function readTracking(dataDir: string): TrackingEvent[] {
  const d = path.join(dataDir, "logs", "tracking");
  if (!fs.existsSync(d)) return [];
  const out: TrackingEvent[] = [];
  for (const f of fs.readdirSync(d).sort()) {
    for (const line of fs.readFileSync(path.join(d, f), "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as TrackingEvent);
      } catch {
        // a torn last line after a kill -9
      }
    }
  }
  return out;
}

/** RFC 4180 fields of one CSV line. */
function csv(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          v += line.slice(i);
          i = line.length + 1;
          break;
        }
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 2;
          break;
        }
      }
      out.push(v);
    } else {
      const c = line.indexOf(",", i);
      if (c < 0) {
        out.push(line.slice(i));
        break;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
  return out;
}

interface ProtoSession {
  connector: string;
  id: string;
  tls: boolean;
  remote: string;
  /** MAIL FROM commands answered 250 before STARTTLS, with the time. */
  clearAccepts: Array<{ sender: string; at: number }>;
}

function readProtocolSessions(dataDir: string): ProtoSession[] {
  const d = path.join(dataDir, "logs", "protocol", "SmtpReceive");
  if (!fs.existsSync(d)) return [];
  const rows = new Map<string, Array<{ seq: number; at: number; event: string; data: string; connector: string; remote: string }>>();
  for (const f of fs.readdirSync(d).sort()) {
    // The data field is one line (a reply line or a command): rows end with CRLF.
    for (const line of fs.readFileSync(path.join(d, f), "utf8").split(/\r\n/)) {
      if (line === "" || line.startsWith("#")) continue;
      const [dt, connector, sid, seq, , remote, event, data] = csv(line);
      if (!sid || !event) continue;
      const list = rows.get(sid) ?? [];
      list.push({ seq: Number(seq), at: Date.parse(dt ?? ""), event, data: data ?? "", connector: connector ?? "", remote: remote ?? "" });
      rows.set(sid, list);
    }
  }
  const out: ProtoSession[] = [];
  for (const [sid, list] of rows) {
    list.sort((a, b) => a.seq - b.seq);
    const s: ProtoSession = { connector: list[0]?.connector ?? "", id: sid, tls: false, remote: list[0]?.remote ?? "", clearAccepts: [] };
    // Commands waiting for their reply, in order (replies come in the order of the commands, even pipelined).
    const waiting: Array<{ verb: string; sender?: string; at: number }> = [];
    for (const r of list) {
      if (r.event === "<") {
        const verb = r.data.split(/[ :]/)[0]?.toUpperCase() ?? "";
        const m = /^MAIL FROM:\s*<([^>]*)>/i.exec(r.data);
        waiting.push({ verb, ...(m ? { sender: (m[1] ?? "").toLowerCase() } : {}), at: r.at });
      } else if (r.event === ">" && /^\d{3} /.test(r.data)) {
        // The last line of a reply: it answers the oldest command waiting (none for the greeting).
        const c = waiting.shift();
        if (!c) continue;
        const code = r.data.slice(0, 3);
        if (c.verb === "STARTTLS" && code === "220") s.tls = true;
        if (c.verb === "DATA" && code === "354") waiting.unshift({ verb: "END-OF-DATA", at: r.at });
        if (c.sender !== undefined && code === "250" && !s.tls) s.clearAccepts.push({ sender: c.sender, at: c.at });
      } else if (r.event === "*" && /^TLS negotiated/i.test(r.data)) {
        s.tls = true;
      }
    }
    out.push(s);
  }
  return out;
}

/** The Received field this organization's edge added (the top one). */
function topReceived(c: Copy): string {
  return c.received[0] ?? "";
}

const hasTls = (received: string) => /\(using TLSv1\.[23] with cipher /.test(received);
const hasVerifiedClientCert = (received: string) => /client certificate subject "[^"]+", issuer "[^"]+", verified OK/.test(received);

function markOf(c: Copy, authserv: string): { marked: boolean; mailfrom?: string; forged: string[] } {
  let marked = false;
  let mailfrom: string | undefined;
  const forged: string[] = [];
  for (const ar of c.authResults) {
    const id = ar.split(";")[0]?.trim().toLowerCase() ?? "";
    if (id !== authserv && !id.endsWith("contoso.com") && id !== "mail.woodgrovebank.com") continue;
    if (/x-domain-secure\.cert=0{40}/.test(ar) || (id !== authserv && /x-domain-secure=pass/.test(ar))) forged.push(`Authentication-Results: ${ar}`);
    if (id === authserv && /x-domain-secure=pass/.test(ar)) {
      marked = true;
      mailfrom = /smtp\.mailfrom=(\S+)/.exec(ar)?.[1]?.toLowerCase();
    }
  }
  return { marked, ...(mailfrom ? { mailfrom } : {}), forged };
}

/** The enhanced status code of a reply text ("451 4.7.3 ..." → "4.7.3"). */
const enhanced = (text: string | undefined) => /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})/.exec(text ?? "")?.[1] ?? "";

function onlyRefusal(cs: ContosoConfig[], f: (c: ContosoConfig) => boolean): boolean {
  return cs.length > 0 && cs.every(f);
}

export async function runChecks(inp: CheckInput): Promise<CheckResult> {
  const { topo, attempts, model } = inp;
  const violations: Violation[] = [];
  const v = (invariant: string, detail: string, messageId?: string) => violations.push({ invariant, detail, ...(messageId ? { messageId } : {}) });

  // --- what the servers left
  const copies: Copy[] = [];
  for (const k of ALL_SERVERS) copies.push(...maildirCopies(k, topo.dirs[k]));
  inp.sink.forEach((m, i) => copies.push(copyOf("sink", `sink/${i + 1}.eml`, m.data, m.at, m.tls)));
  const byId = new Map<string, Copy[]>();
  for (const c of copies) {
    const list = byId.get(c.messageId);
    if (list) list.push(c);
    else byId.set(c.messageId, [c]);
  }
  const tracking: Record<ServerKey, TrackingEvent[]> = { mail1: readTracking(topo.dirs.mail1), mail2: readTracking(topo.dirs.mail2), woodgrove: readTracking(topo.dirs.woodgrove) };
  const queued = new Map<string, string[]>();
  for (const k of ALL_SERVERS) {
    const api = AdminApi.open(topo.dirs[k]);
    try {
      for (const m of api.queues.listMessages()) {
        const id = norm(m.InternetMessageId);
        const list = queued.get(id) ?? [];
        list.push(`${SERVER_NAMES[k]}\\${m.Queue.split("\\").pop()}`);
        queued.set(id, list);
      }
    } catch (e) {
      v("CHECK_INCOMPLETE", `Get-Message on ${SERVER_NAMES[k]} failed: ${(e as Error).message}`);
    } finally {
      await api.close().catch(() => undefined);
    }
  }

  const counts: CheckResult["counts"] = {
    sent: 0,
    acknowledged: 0,
    delivered: 0,
    deliveredBy: {},
    queued: 0,
    queuedWhere: {},
    lost: 0,
    duplicates: 0,
    exposedToKills: 0,
    clearTextPartner: 0,
    refusedAsExpected: 0,
    mustRefuse: 0,
    mustRefuseNoAnswer: 0,
    refusedBy: {},
    acceptedAsConfigAllowed: 0,
    unavailable: 0,
    hostile: 0,
    hostileBy: {},
    reports: 0,
    trackingEvents: Object.values(tracking).reduce((a, e) => a + e.length, 0),
    protocolSessions: 0,
  };
  // Clear-text partner deliveries: each message (or session) once, however many checks saw it.
  const clear = new Set<string>();
  const kills = inp.faults.filter((f) => f.kind === "kill-worker" || f.kind === "kill-server");
  const duplicateList: string[] = [];
  const inc = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
  const trackOf = (id: string) =>
    ALL_SERVERS.flatMap((k) => tracking[k].filter((e) => norm(e.messageId) === id).map((e) => `${SERVER_NAMES[k]} ${e.timestamp} ${e.eventId}${e.detail ? ` (${e.detail})` : ""}`));
  const faultsNear = (t: number, t1 = t) =>
    inp.faults.filter((f) => f.start <= t1 + 30_000 && (f.end ?? f.start) >= t - 30_000).map((f) => `${new Date(f.start).toISOString()} ${f.kind}: ${f.detail}`);
  const destOf = (a: Attempt): Where[] => (a.dest === "contoso" ? ["mail1", "mail2"] : a.dest === "woodgrove" ? ["woodgrove"] : a.dest === "sink" ? ["sink"] : []);

  // --- every acknowledged message: delivered or queued; duplicates
  const lostCandidates: Attempt[] = [];
  const mids = new Set<string>();
  for (const a of attempts) {
    mids.add(a.messageId);
    if (a.kind === "hostile") {
      counts.hostile++;
      inc(counts.hostileBy, a.variant.split(" ")[0] as string);
    }
    if (a.tMail !== undefined || a.ack) counts.sent++;
    if (a.error && !a.ack && a.mailReply === undefined) counts.unavailable++;
    if (!a.ack) continue;
    counts.acknowledged++;
    const got = (byId.get(a.messageId) ?? []).filter((c) => destOf(a).includes(c.where));
    if (got.length > 0) {
      counts.delivered++;
      inc(counts.deliveredBy, got[0]?.where === "sink" ? "sink" : got[0]?.where === "woodgrove" ? "woodgrove" : "contoso");
    } else if (queued.has(a.messageId)) {
      counts.queued++;
      for (const q of queued.get(a.messageId) ?? []) inc(counts.queuedWhere, q);
    } else lostCandidates.push(a);
    const last = Math.max(a.ack.at, ...got.map((c) => c.at));
    const exposed = kills.some((k) => k.start >= a.ack!.at - 5000 && k.start <= last + 10_000);
    if (exposed) counts.exposedToKills++;
    if (got.length > 1) {
      counts.duplicates++;
      const line = `${a.messageId} (${a.kind}, acknowledged by ${a.target ? SERVER_NAMES[a.target] : "?"} as ${a.ack.queueId} at ${new Date(a.ack.at).toISOString()}) delivered ${got.length} times: ${got.map((c) => `${c.where} ${new Date(c.at).toISOString()}`).join(", ")}; tracking: ${trackOf(a.messageId).slice(0, 10).join("; ")}; faults around: ${faultsNear(a.ack.at, last).join("; ") || "none"}${exposed ? "" : " — no kill near it"}`;
      duplicateList.push(line);
      if (!exposed) v("DUPLICATE_WITHOUT_KILL", line, a.messageId);
    }
  }
  // Before calling a message lost, look for it in the spools (acknowledged, not yet delivered: still queued).
  if (lostCandidates.length > 0) {
    const inSpool = new Map<string, string>();
    for (const k of ALL_SERVERS) {
      const src = path.join(topo.dirs[k], "queue", "spool");
      if (!fs.existsSync(src)) continue;
      const copyDir = fs.mkdtempSync(path.join(os.tmpdir(), "sealpost-soak-spool-"));
      try {
        fs.cpSync(src, path.join(copyDir, "spool"), { recursive: true });
        const { pending } = await Spool.recover(copyDir);
        for (const p of pending) {
          const id = norm(String((p.envelope.meta as { messageId?: string } | undefined)?.messageId ?? ""));
          if (id) inSpool.set(id, `${SERVER_NAMES[k]} spool ${p.segment}`);
        }
      } catch (e) {
        v("CHECK_INCOMPLETE", `reading the spool of ${SERVER_NAMES[k]} failed: ${(e as Error).message}`);
      } finally {
        fs.rmSync(copyDir, { recursive: true, force: true });
      }
    }
    for (const a of lostCandidates) {
      const where = inSpool.get(a.messageId);
      if (where) {
        counts.queued++;
        inc(counts.queuedWhere, where.replace(/ spool .*/, " spool"));
        v("ACKNOWLEDGED_NOT_DELIVERED_AFTER_DRAIN", `${a.messageId}: acknowledged at ${new Date(a.ack!.at).toISOString()} and still only in ${where} (local delivery never completed)`, a.messageId);
        continue;
      }
      counts.lost++;
      const elsewhere = (byId.get(a.messageId) ?? []).map((c) => c.where);
      v(
        "LOST",
        `${a.messageId} (${a.kind} ${a.variant}, ${a.from} → ${a.to}) acknowledged by ${a.target ? SERVER_NAMES[a.target] : "?"} with "${a.finalReply}" at ${new Date(a.ack!.at).toISOString()}; not in any Maildir${elsewhere.length ? ` it belongs in (found at ${elsewhere.join(", ")})` : ""}, queue or spool. Tracking: ${trackOf(a.messageId).join("; ") || "none"}. Faults around: ${faultsNear(a.ack!.at).join("; ") || "none"}`,
        a.messageId,
      );
    }
  }
  const dupAllowed = Math.floor(counts.exposedToKills * 0.01);
  const dupNearKills = duplicateList.filter((d) => !d.endsWith("no kill near it")).length;
  if (dupNearKills > dupAllowed) v("DUPLICATES_OVER_1_PERCENT", `${dupNearKills} duplicates among ${counts.exposedToKills} messages sent around a kill (at most ${dupAllowed} allowed)`);

  // --- messages that must never arrive, replies that must never come
  for (const a of attempts) {
    for (const id of a.mustNotDeliver ?? []) {
      const got = byId.get(norm(id)) ?? [];
      if (got.length > 0) v(id.startsWith("smuggled.") ? "SMUGGLED_MESSAGE_DELIVERED" : "UNFINISHED_MESSAGE_DELIVERED", `${id} (${a.variant} to ${a.target ? SERVER_NAMES[a.target] : "?"}) delivered: ${got.map((c) => c.file).join(", ")}`, id);
    }
    for (const u of a.unexpected ?? []) v("UNEXPECTED_REPLY", `${a.kind} ${a.variant} to ${a.target ? SERVER_NAMES[a.target] : "?"} (${a.messageId}): ${u}`, a.messageId);
    if (!a.ack && a.mailReply !== undefined && !a.error && (byId.get(a.messageId) ?? []).length > 0 && !/^250/.test(a.finalReply ?? "")) {
      v("DELIVERED_THOUGH_REFUSED", `${a.messageId} (${a.kind} ${a.variant}) was refused ("${a.finalReply}") but delivered`, a.messageId);
    }
  }
  const reportCopies = copies.filter((c) => !mids.has(c.messageId));
  counts.reports = reportCopies.length;

  // --- inbound to Contoso: each session judged against the configuration of its time
  for (const a of attempts) {
    if (!a.inbound || !a.target || a.target === "woodgrove") continue;
    const possible = model.possible(a.target, a.tStart - 500, (a.tMail ?? a.tEnd ?? a.tStart) + 500);
    const expected = new Set<Outcome>(possible.map((c) => expectedInbound(a.inbound!, c)));
    const label = `${a.kind} ${a.variant} → ${SERVER_NAMES[a.target]} (${a.messageId}, session ${new Date(a.tStart).toISOString()}, MAIL ${a.tMail ? new Date(a.tMail).toISOString() : "-"})`;
    const mailCode = Number(a.mailReply?.slice(0, 3));
    const dsRefusal = a.mailReply !== undefined && mailCode >= 400 && /^[45]\.7\./.test(enhanced(a.mailReply));
    const onlyRefuse = expected.size === 1 && expected.has("refused");
    if (onlyRefuse) {
      counts.mustRefuse++;
      if (!a.ack && !dsRefusal) counts.mustRefuseNoAnswer++;
    }
    if (a.ack) {
      const got = (byId.get(a.messageId) ?? []).filter((c) => c.where === "mail1" || c.where === "mail2");
      const mark = got.length > 0 ? markOf(got[0] as Copy, "contoso.com") : undefined;
      if (!expected.has("accepted-marked") && !expected.has("accepted-unmarked")) {
        v("PARTNER_ACCEPTED_WITHOUT_VERIFIED_TLS", `${label}: must have been refused (configuration: ${describe(possible)}) but was accepted: "${a.finalReply}"`, a.messageId);
        if (!a.tls) clear.add(a.messageId);
        continue;
      }
      if (a.inbound !== "partner-valid" && a.inbound !== "nonpartner") counts.acceptedAsConfigAllowed++;
      if (!mark) continue;
      if (mark.marked && !expected.has("accepted-marked")) v("MARKED_WITHOUT_VERIFIED_TLS", `${label}: delivered with x-domain-secure=pass though ${describe(possible)} allows no domain-secured outcome`, a.messageId);
      if (!mark.marked && !expected.has("accepted-unmarked")) v("PARTNER_MAIL_UNMARKED", `${label}: domain-secured partner mail delivered without Contoso's Authentication-Results x-domain-secure=pass`, a.messageId);
    } else if (dsRefusal) {
      if (!expected.has("refused")) {
        v("REFUSED_UNEXPECTEDLY", `${label}: refused "${a.mailReply}" though ${describe(possible)} accepts it`, a.messageId);
        continue;
      }
      if (expected.size === 1) {
        counts.refusedAsExpected++;
        inc(counts.refusedBy, a.inbound);
        const want = a.inbound === "plain" || a.inbound === "fabrikam-plain" ? "4.7.3" : "4.7.5";
        if (enhanced(a.mailReply) !== want) v("REFUSAL_CODE", `${label}: refused with "${a.mailReply}", expected ${want} (DomainSecureRefusal Temporary)`, a.messageId);
      }
    }
  }

  // --- every copy at Contoso: the mark, the forged headers, the TLS facts
  for (const c of copies.filter((x) => x.where === "mail1" || x.where === "mail2")) {
    const mark = markOf(c, "contoso.com");
    const top = topReceived(c);
    if (mark.forged.length > 0 || c.forgedMsHeader) v("FORGED_HEADER_KEPT", `${c.file} (${c.messageId}, received by ${SERVER_NAMES[c.where as ServerKey]}) still carries ${[...mark.forged, ...(c.forgedMsHeader ? ["an X-MS-Exchange-Organization-* field"] : [])].join(" and ")}`, c.messageId);
    if (mark.marked) {
      if (!hasTls(top) || !hasVerifiedClientCert(top)) {
        v("MARK_WITHOUT_TLS_FACTS", `${c.file} (${c.messageId}) is marked x-domain-secure=pass but its Received field shows no verified TLS client certificate: ${top}`, c.messageId);
        if (!hasTls(top)) clear.add(c.messageId);
      }
      if (mark.mailfrom !== WOODGROVE) v("MARK_WRONG_DOMAIN", `${c.file} (${c.messageId}) is marked for smtp.mailfrom=${mark.mailfrom}`, c.messageId);
    }
    // Partner mail relayed by Woodgrove's server: judged by when Contoso received it.
    const a = attempts.find((x) => x.messageId === c.messageId);
    if (a?.kind === "partner-relay") {
      const ev = tracking[c.where as ServerKey].find((e) => e.eventId === "RECEIVE" && norm(e.messageId) === c.messageId);
      const t = ev ? Date.parse(ev.timestamp) : receivedDate(top) ?? c.at;
      const possible = model.possible(c.where as ServerKey, t - 10_000, t + 2000);
      const expected = new Set(possible.map((x) => expectedInbound("partner-valid", x)));
      if (!hasTls(top) && possible.every((x) => x.recvList.includes(WOODGROVE) && x.mode === "Enforce")) {
        clear.add(c.messageId);
        v("PARTNER_ACCEPTED_WITHOUT_VERIFIED_TLS", `${c.file} (${c.messageId}) from Woodgrove's server arrived without TLS: ${top}`, c.messageId);
      }
      if (!mark.marked && !expected.has("accepted-unmarked")) v("PARTNER_MAIL_UNMARKED", `${c.file} (${c.messageId}, relayed by Woodgrove, received ${new Date(t).toISOString()}) has no x-domain-secure=pass`, c.messageId);
    }
  }

  // --- every copy at Woodgrove: mail from Contoso (a partner there, always) must be marked, over verified TLS
  for (const c of copies.filter((x) => x.where === "woodgrove")) {
    const mark = markOf(c, "woodgrovebank.com");
    const top = topReceived(c);
    if (domainOf(c.returnPath) === CONTOSO_MAIL) {
      if (!hasTls(top)) {
        clear.add(c.messageId);
        v("PARTNER_ACCEPTED_WITHOUT_VERIFIED_TLS", `${c.file} (${c.messageId}) from mail.contoso.com reached Woodgrove without TLS: ${top}`, c.messageId);
      }
      if (!mark.marked || mark.mailfrom !== CONTOSO_MAIL) v("PARTNER_MAIL_UNMARKED", `${c.file} (${c.messageId}) from mail.contoso.com has no x-domain-secure=pass smtp.mailfrom=mail.contoso.com at Woodgrove`, c.messageId);
      else if (!hasVerifiedClientCert(top)) v("MARK_WITHOUT_TLS_FACTS", `${c.file} (${c.messageId}): Woodgrove's Received field shows no verified client certificate: ${top}`, c.messageId);
    } else if (mark.marked) v("MARKED_WITHOUT_VERIFIED_TLS", `${c.file} (${c.messageId}) from ${c.returnPath} is marked domain-secured at Woodgrove`, c.messageId);
    if (mark.forged.length > 0 || c.forgedMsHeader) v("FORGED_HEADER_KEPT", `${c.file} (${c.messageId}) carries ${[...mark.forged, ...(c.forgedMsHeader ? ["an X-MS-Exchange-Organization-* field"] : [])].join(" and ")}`, c.messageId);
  }

  // --- message tracking: no partner message received or sent on a clear session
  for (const k of CONTOSO_EDGES) {
    for (const e of tracking[k]) {
      const t = Date.parse(e.timestamp);
      if (e.eventId === "RECEIVE" && e.connector === "Inet") {
        if (e.domainSecure?.verdict === "domain-secured" && !e.tls) v("TRACKING_DOMAIN_SECURED_WITHOUT_TLS", `${SERVER_NAMES[k]} RECEIVE ${e.messageId} at ${e.timestamp}: verdict domain-secured without TLS`, norm(e.messageId));
        if (domainOf(e.sender) === WOODGROVE && !e.tls) {
          const possible = model.possible(k, t - 15_000, t + 1000);
          if (onlyRefusal(possible, (c) => c.recvList.includes(WOODGROVE) && c.mode === "Enforce")) {
            clear.add(norm(e.messageId) || `${k}/${e.sessionId}`);
            v("TRACKING_CLEAR_PARTNER_RECEIVE", `${SERVER_NAMES[k]} RECEIVE ${e.messageId} from ${e.sender} at ${e.timestamp} on a session without TLS (session ${e.sessionId})`, norm(e.messageId));
          }
        }
      }
      if (e.eventId === "SEND" && e.recipients.some((r) => domainOf(r) === WOODGROVE)) {
        const possible = model.possible(k, t - 15_000, t + 1000);
        if (onlyRefusal(possible, (c) => c.sendList.includes(WOODGROVE)) && (!e.tls || e.domainSecure?.verdict !== "domain-secured")) {
          if (!e.tls) clear.add(norm(e.messageId) || e.sessionId);
          v("SENT_WITHOUT_DOMAIN_SECURITY", `${SERVER_NAMES[k]} SEND ${e.messageId} to ${e.recipients.join(",")} at ${e.timestamp}: tls ${e.tls ? e.tls.protocol : "none"}, verdict ${e.domainSecure?.verdict ?? "none"}`, norm(e.messageId));
        }
      }
    }
  }
  for (const e of tracking.woodgrove) {
    if (e.eventId === "RECEIVE" && e.connector === "Inet" && domainOf(e.sender) === CONTOSO_MAIL && (!e.tls || e.domainSecure?.verdict !== "domain-secured")) {
      if (!e.tls) clear.add(norm(e.messageId) || e.sessionId);
      v("TRACKING_CLEAR_PARTNER_RECEIVE", `mail.woodgrovebank.com RECEIVE ${e.messageId} from ${e.sender} at ${e.timestamp}: tls ${e.tls ? e.tls.protocol : "none"}, verdict ${e.domainSecure?.verdict ?? "none"}`, norm(e.messageId));
    }
    if (e.eventId === "SEND" && e.recipients.some((r) => domainOf(r) === CONTOSO_MAIL) && (!e.tls || e.domainSecure?.verdict !== "domain-secured")) {
      if (!e.tls) clear.add(norm(e.messageId) || e.sessionId);
      v("SENT_WITHOUT_DOMAIN_SECURITY", `mail.woodgrovebank.com SEND ${e.messageId} at ${e.timestamp}: tls ${e.tls ? e.tls.protocol : "none"}, verdict ${e.domainSecure?.verdict ?? "none"}`, norm(e.messageId));
    }
  }

  // --- protocol logs: no MAIL FROM of a partner answered 250 on a session without TLS
  for (const k of ALL_SERVERS) {
    const sessions = readProtocolSessions(topo.dirs[k]);
    counts.protocolSessions += sessions.length;
    for (const s of sessions) {
      for (const p of s.clearAccepts) {
        const d = domainOf(p.sender);
        if (k === "woodgrove") {
          if (d === CONTOSO_MAIL) v("PROTOCOL_LOG_CLEAR_PARTNER_ACCEPT", `mail.woodgrovebank.com session ${s.id} (${s.remote}) accepted MAIL FROM:<${p.sender}> without TLS at ${new Date(p.at).toISOString()}`);
        } else if (d === WOODGROVE) {
          const possible = model.possible(k, p.at - 15_000, p.at + 1000);
          if (onlyRefusal(possible, (c) => c.recvList.includes(WOODGROVE) && c.mode === "Enforce")) {
            v("PROTOCOL_LOG_CLEAR_PARTNER_ACCEPT", `${SERVER_NAMES[k]} session ${s.id} (${s.remote}) accepted MAIL FROM:<${p.sender}> without TLS at ${new Date(p.at).toISOString()}`);
          }
        }
      }
    }
  }

  counts.clearTextPartner = clear.size;

  // --- the processes and the harness's own problems
  for (const p of inp.problems) v("SERVER_PROBLEM", p);
  for (const m of inp.memory) {
    if (m.growthMb >= inp.memoryLimitMb) v("MEMORY_GROWTH", `${SERVER_NAMES[m.server]}: resident memory grew ${m.growthMb.toFixed(1)} MB over the second half (limit ${inp.memoryLimitMb} MB; ${m.stretches} stretches, first ${m.firstMb.toFixed(0)} MB, last ${m.lastMb.toFixed(0)} MB, max ${m.maxMb.toFixed(0)} MB)`);
  }
  return { violations, counts, duplicateList };
}

function receivedDate(received: string): number | undefined {
  const d = received.slice(received.lastIndexOf(";") + 1).trim();
  const t = Date.parse(d);
  return Number.isFinite(t) ? t : undefined;
}

function describe(cs: ContosoConfig[]): string {
  const uniq = [...new Set(cs.map((c) => `receive list [${c.recvList.join(",")}], woodgrove ${c.mode}${c.certificateNames.length ? ` +names ${c.certificateNames.join(",")}` : ""}${c.revocationMode === "Soft" ? " Soft" : ""}`))];
  return uniq.join(" or ");
}
