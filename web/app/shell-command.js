// The shell command a console action runs, as the 2007 console showed it at
// the end of each wizard: the same cmdlet and parameters the console sends
// to InvokeCommand, in the shell's syntax. A secret is never shown: it reads
// -Password (Read-Host -AsSecureString). File contents are shown as the
// shell's -Path with the file's name. No DOM here (the unit tests import it).

const BARE = /^[A-Za-z0-9._@:/\\*+=,-]+$/;
const SECRET_NAME = /pass(word)?|secret|token|credential|apikey/i;

/** A string as the shell reads it: bare when safe, else in double quotes with ` " $ escaped. */
export function quote(s) {
  const t = String(s);
  if (t !== "" && BARE.test(t) && !t.includes(",")) return t;
  return `"${t.replace(/[`"$]/g, (c) => `\`${c}`)}"`;
}

function list(v) {
  return v.map(quote).join(",");
}

function value(v) {
  if (typeof v === "boolean") return v ? "$true" : "$false";
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return v.length ? list(v) : "$null";
  if (v === null || v === undefined) return "$null";
  if (typeof v === "object") {
    const parts = [];
    for (const k of ["Add", "Remove"]) if (Array.isArray(v[k]) && v[k].length) parts.push(`${k}=${v[k].map((x) => `"${String(x).replace(/[`"$]/g, (c) => `\`${c}`)}"`).join(",")}`);
    return `@{${parts.join("; ")}}`;
  }
  return quote(v);
}

/**
 * formatCommand("Set-TransportConfig", {TLSSendDomainSecureList: {Add: ["woodgrovebank.com"]}})
 *   -> 'Set-TransportConfig -TLSSendDomainSecureList @{Add="woodgrovebank.com"}'
 * info: the cmdlet's CmdletInfo entry (parameter types: switch, secret; FileData's -Path).
 * opts.files: { FileData: "name.cer" } the names of uploaded files; opts.extra: {Confirm, Force, WhatIf}.
 */
export function formatCommand(name, params = {}, info, opts = {}) {
  const byName = new Map((info?.Parameters ?? []).map((p) => [p.Name, p]));
  const pathFor = new Map((info?.Parameters ?? []).filter((p) => p.FileDataParameter && p.ClientFile !== "secret").map((p) => [p.FileDataParameter, p.Name]));
  const out = [name];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    const p = byName.get(k);
    if (p?.Type === "secret" || SECRET_NAME.test(k)) {
      out.push(`-${k} (Read-Host -AsSecureString)`);
      continue;
    }
    if (k === "FileData") {
      out.push(`-${pathFor.get(k) ?? "Path"} ${quote(opts.files?.FileData ?? "<file>")}`);
      continue;
    }
    if (p?.Type === "switch" || (!p && v === true && /^(GenerateRequest|BinaryEncoded|Force|Detailed)$/.test(k))) {
      if (v === true) out.push(`-${k}`);
      else if (v === false) out.push(`-${k}:$false`);
      continue;
    }
    out.push(`-${k} ${value(v)}`);
  }
  if (opts.resultFile) out.push(`-Path ${quote(opts.resultFile)}`);
  const extra = opts.extra ?? {};
  if (extra.Confirm === false) out.push("-Confirm:$false");
  if (extra.Force === true && !("Force" in params)) out.push("-Force");
  if (extra.WhatIf === true) out.push("-WhatIf");
  return out.join(" ");
}
