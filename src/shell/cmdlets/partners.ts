// Domain Security partner options and the certificate diagnostic.
import { existsSync, statSync } from "node:fs";
import { readInputFile } from "../../config/files.js";
import type { IssuerEdit, IssuerInput } from "../../admin/partners.js";
import { SealpostError } from "../../errors/errors.js";
import type { ListEdit } from "../binder.js";
import type { Verdict } from "../../pki/trust/verdict.js";
import { formatValue } from "../format.js";
import type { CmdletDef } from "../shell.js";
import { fileDataBytes, fileDataParam, requirePathOrFileData } from "./filedata.js";

/** Test-Certificate's report: the chain, each check, the verdict. */
export function renderVerdict(v: Verdict & { domain?: string; role?: string }): string {
  const lines: string[] = [];
  lines.push(`Certificate: ${v.chain[0]?.subject ?? "(none)"}${v.thumbprint ? ` (${v.thumbprint})` : ""}`);
  if (v.certificateNames) lines.push(`Names:       ${v.certificateNames.join(", ") || "(none)"}`);
  lines.push(`Checked as:  ${v.role === "server" ? "a server (outbound)" : "a client (inbound)"}${v.domain ? ` for ${v.domain}` : ""}`);
  lines.push("", "Chain:");
  v.chain.forEach((c, i) => {
    lines.push(`  [${i}] ${c.subject}  (${c.source})`);
    lines.push(`      issuer ${c.issuer}; serial ${c.serialNumber}; thumbprint ${c.thumbprint}; ${formatValue(c.notBefore)} to ${formatValue(c.notAfter)}`);
  });
  lines.push("", "Checks:");
  for (const c of v.checks) lines.push(`  [${c.ok === true ? "PASS" : c.ok === false ? "FAIL" : "----"}] ${c.name}: ${c.detail}`);
  for (const w of v.warnings) lines.push(`  [WARN] ${w}`);
  lines.push("", `Verdict: ${v.ok ? "PASS" : "FAIL"} ${v.code}: ${v.reason}`);
  return lines.join("\n");
}

/**
 * -AllowedIssuers values as the admin door takes them: a thumbprint (40 hex
 * digits) or key fingerprint (64) as text; a CA certificate as PEM text
 * (the shell turns a certificate file it is given into PEM text before the
 * call); otherwise text (a subject name, which the API accepts only to
 * remove entries). Only the local command line (`sealpost partner set`)
 * passes `resolveLocal`, to read certificate files it is named; the cmdlet
 * never does.
 */
export function issuerInputs(values: string[], resolveLocal?: (p: string) => string): IssuerInput[] {
  return values.map((v) => {
    const text = v.trim();
    const hex = text.replace(/[\s:]/g, "");
    if (/^[0-9A-Fa-f]+$/.test(hex) && (hex.length === 40 || hex.length === 64)) return text;
    if (/-----BEGIN [A-Z0-9 ]+-----/.test(text)) return Buffer.from(text, "utf8");
    if (resolveLocal) {
      const file = resolveLocal(text);
      if ((existsSync(file) && statSync(file).isFile()) || !text.includes("=")) return readInputFile(file, "AllowedIssuers certificate file");
    }
    if (text.includes("=")) return text;
    throw new SealpostError(
      "INVALID_ARGUMENT",
      `-AllowedIssuers: '${text.slice(0, 120)}' is neither a thumbprint, a key fingerprint, a subject name nor a certificate (PEM); in the shell give a certificate file, over the admin door its PEM text.`,
    );
  });
}

export function issuerEdit(edit: ListEdit): IssuerEdit {
  return "replace" in edit ? { replace: issuerInputs(edit.replace) } : { add: issuerInputs(edit.add), remove: issuerInputs(edit.remove) };
}

export const partnerCmdlets: CmdletDef[] = [
  {
    name: "Get-DomainSecurePartner",
    synopsis: "Shows Domain Security partner options (all stored partners, or one domain with its defaults).",
    table: ["Domain", "NameMatch", "Mode", "RevocationMode", "AllowWeakCrypto", "CertificateNames", "AllowedIssuers"],
    params: [{ name: "Identity", type: "string", position: 0, aliases: ["Domain"] }],
    async run(args, ctx) {
      return ctx.api.partners.get(args.Identity as string | undefined);
    },
  },
  {
    name: "Set-DomainSecurePartner",
    synopsis:
      "Sets a partner's options: -NameMatch Exact|Subdomains -CertificateNames -AllowedIssuers (CA certificate files or thumbprints of trusted certificates; pinned by key) -Mode Enforce|ReportOnly -RevocationMode Hard|Soft -AllowWeakCrypto $true|$false.",
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, aliases: ["Domain"], fromPipelineProperty: true },
      { name: "NameMatch", type: "string", values: ["Exact", "Subdomains"] },
      { name: "CertificateNames", type: "listedit" },
      {
        name: "AllowedIssuers",
        type: "listedit",
        clientFile: "entries",
        help: "CA certificate files (the shell sends them as PEM text) or thumbprints of trusted roots/intermediates; @{Remove=...} also takes a key fingerprint or a subject name",
      },
      { name: "Mode", type: "string", values: ["Enforce", "ReportOnly"] },
      { name: "RevocationMode", type: "string", values: ["Hard", "Soft"] },
      { name: "AllowWeakCrypto", type: "bool" },
    ],
    async run(args, ctx) {
      await ctx.api.partners.set(args.Identity as string, {
        ...(args.NameMatch !== undefined ? { nameMatch: args.NameMatch as string } : {}),
        ...(args.CertificateNames !== undefined ? { certificateNames: args.CertificateNames as ListEdit } : {}),
        ...(args.AllowedIssuers !== undefined ? { allowedIssuers: issuerEdit(args.AllowedIssuers as ListEdit) } : {}),
        ...(args.Mode !== undefined ? { mode: args.Mode as string } : {}),
        ...(args.RevocationMode !== undefined ? { revocationMode: args.RevocationMode as string } : {}),
        ...(args.AllowWeakCrypto !== undefined ? { allowWeakCrypto: args.AllowWeakCrypto as boolean } : {}),
      });
      return [];
    },
  },
  {
    name: "Test-Certificate",
    synopsis: "Validates a certificate file and shows the chain, each check and the verdict (optionally for a partner domain).",
    params: [
      { name: "Path", type: "string", position: 0, clientFile: "read", help: "the certificate file on the shell's machine (sent as -FileData)" },
      fileDataParam("the certificate (PEM bundle, DER, PKCS#7), base64"),
      { name: "Domain", type: "string" },
      { name: "Role", type: "string", values: ["Client", "Server"], help: "Client (inbound, default) or Server (outbound)" },
      { name: "RequireClientAuth", type: "switch" },
    ],
    render: (objects) => objects.map((o) => renderVerdict(o as Verdict)).join("\n\n"),
    validate(args) {
      requirePathOrFileData("Test-Certificate", args);
    },
    async run(args, ctx) {
      const data = fileDataBytes("Test-Certificate", args.FileData);
      const role = args.Role === undefined ? "client" : String(args.Role).toLowerCase();
      if (role !== "client" && role !== "server") throw new SealpostError("INVALID_ARGUMENT", `Test-Certificate: -Role '${String(args.Role)}' is not valid: use Client or Server.`);
      return [
        await ctx.api.partners.testCertificate(data, {
          ...(typeof args.Domain === "string" ? { domain: args.Domain } : {}),
          role,
          requireClientAuth: args.RequireClientAuth === true,
        }),
      ];
    },
  },
];
