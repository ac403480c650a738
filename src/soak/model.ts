// What configuration was in force when, so the checker judges each session
// against the rules that applied to it. Contoso's organization-wide settings
// change during the run (partners added to and removed from the lists, a
// partner's options toggled); each change is a version. A version may be in
// force on an edge from the moment its command was issued (the commit falls
// somewhere inside the command) until the next version was seen applied on
// that edge (its edge_status row in the organization store) plus a slack
// for the workers to reload their snapshot. Inside such an overlap both
// versions are possible and either outcome is accepted; outside it the
// outcome must be the one the single version in force demands.
//
// Woodgrove's configuration never changes during the run.

export const WOODGROVE = "woodgrovebank.com";
export const FABRIKAM = "fabrikam.com";
export const CONTOSO_MAIL = "mail.contoso.com";

export interface ContosoConfig {
  /** TLSReceiveDomainSecureList */
  recvList: string[];
  /** TLSSendDomainSecureList */
  sendList: string[];
  /** Woodgrove's partner options */
  mode: "Enforce" | "ReportOnly";
  certificateNames: string[];
  revocationMode: "Hard" | "Soft";
}

export const BASELINE: ContosoConfig = Object.freeze({
  recvList: [WOODGROVE],
  sendList: [WOODGROVE],
  mode: "Enforce",
  certificateNames: [],
  revocationMode: "Hard",
}) as ContosoConfig;

export interface Version {
  n: number;
  label: string;
  state: ContosoConfig;
  /** When the command that made it was started (ms since epoch). */
  issuedAt: number;
  /** When it returned successfully. */
  committedAt?: number;
  /** The store's version number after the command (edges report applied versions by it). */
  storeVersion?: number;
  /** Per edge: when the soak saw the edge report this version (or a later one) applied. */
  appliedAt: Map<string, number>;
}

/** Seconds after an edge reports a version before its workers surely use it. */
export const APPLY_SLACK_MS = 3000;

export class ConfigModel {
  readonly versions: Version[] = [];

  constructor(edges: string[]) {
    const base: Version = { n: 0, label: "baseline", state: BASELINE, issuedAt: 0, committedAt: 0, appliedAt: new Map(edges.map((e) => [e, 0])) };
    this.versions.push(base);
  }

  get current(): ContosoConfig {
    const committed = this.versions.filter((v) => v.committedAt !== undefined);
    return (committed[committed.length - 1] as Version).state;
  }

  /** A change about to be made (call committed() or failed() when its command returns). */
  begin(label: string, state: ContosoConfig): Version {
    const v: Version = { n: this.versions.length, label, state, issuedAt: Date.now(), appliedAt: new Map() };
    this.versions.push(v);
    return v;
  }

  committed(v: Version, storeVersion: number | undefined): void {
    v.committedAt = Date.now();
    if (storeVersion !== undefined) v.storeVersion = storeVersion;
  }

  /** The command failed: the change is not in force (a failed command changes nothing). */
  failed(v: Version): void {
    const i = this.versions.indexOf(v);
    if (i >= 0) this.versions.splice(i, 1);
  }

  /** Edge `edge` reports store version `applied` at time `at`. */
  observe(edge: string, applied: number, at: number): void {
    for (const v of this.versions) {
      if (v.storeVersion !== undefined && v.storeVersion <= applied && !v.appliedAt.has(edge)) v.appliedAt.set(edge, at);
    }
  }

  /** Versions whose application on some edge is not yet seen. */
  pending(edges: string[]): Version[] {
    return this.versions.filter((v) => v.committedAt !== undefined && edges.some((e) => !v.appliedAt.has(e)));
  }

  /**
   * The configurations that may have applied on `edge` at some moment of
   * [t0, t1] (a session's start to its decision). A command still running
   * (issued, not returned) counts as possibly in force.
   */
  possible(edge: string, t0: number, t1: number): ContosoConfig[] {
    const vs = this.versions;
    const out: ContosoConfig[] = [];
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i] as Version;
      const start = v.issuedAt;
      let end = Infinity;
      // The next version that was committed (or is in flight) replaces it once seen applied on this edge.
      for (let j = i + 1; j < vs.length; j++) {
        const w = vs[j] as Version;
        const seen = w.appliedAt.get(edge);
        if (seen !== undefined) {
          end = seen + APPLY_SLACK_MS;
          break;
        }
      }
      if (start <= t1 && end >= t0) out.push(v.state);
    }
    return out;
  }

  /** The same for the whole organization (any edge). */
  possibleAnywhere(edges: string[], t0: number, t1: number): ContosoConfig[] {
    return edges.flatMap((e) => this.possible(e, t0, t1));
  }
}

/** The three outcomes a sender can meet at MAIL FROM and after. */
export type Outcome = "refused" | "accepted-marked" | "accepted-unmarked";

/** What an inbound sender to a Contoso edge must meet under one configuration. */
export function expectedInbound(kind: InboundKind, c: ContosoConfig): Outcome {
  const wListed = c.recvList.includes(WOODGROVE);
  switch (kind) {
    case "partner-valid":
      return wListed ? "accepted-marked" : "accepted-unmarked";
    case "wrong-name":
      if (!wListed) return "accepted-unmarked";
      if (c.certificateNames.some((n) => n === "mail.fabrikam.com" || n === "fabrikam.com")) return "accepted-marked";
      return c.mode === "Enforce" ? "refused" : "accepted-unmarked";
    case "expired":
    case "revoked":
    case "self-signed":
    case "untrusted":
    case "no-cert":
    case "plain":
      if (!wListed) return "accepted-unmarked";
      return c.mode === "Enforce" ? "refused" : "accepted-unmarked";
    case "nonpartner":
      return "accepted-unmarked";
    case "fabrikam-plain":
    case "fabrikam-nocert":
      return c.recvList.includes(FABRIKAM) ? "refused" : "accepted-unmarked";
  }
}

export type InboundKind =
  | "partner-valid"
  | "wrong-name"
  | "expired"
  | "revoked"
  | "self-signed"
  | "untrusted"
  | "no-cert"
  | "plain"
  | "nonpartner"
  | "fabrikam-plain"
  | "fabrikam-nocert";
