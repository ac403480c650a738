// The ExchangeCertificate cmdlets, as Exchange 2007 documents them. They
// read and write files on the machine the shell runs on and call the admin
// API with bytes.
import { SealpostError, isSealpostError } from "../../errors/errors.js";
import { parseServices } from "../../admin/certificates.js";
import { checkWritable, readInputFile, writeOutputFile } from "../../config/files.js";
import { normalizeDomain } from "../../pki/domain.js";
import { parseKeySpec } from "../../pki/keys.js";
import { matchesCertificateName } from "../../pki/names.js";
import { readSecretFile } from "../../secrets/secrets.js";
import { changeOptions, FORCE_PARAM, type CmdletContext, type CmdletDef } from "../shell.js";

const CERT_TABLE = ["Thumbprint", "Services", "Subject"];

/** -Password, -PasswordFile, or a prompt on the terminal. */
async function passwordArg(args: Record<string, unknown>, ctx: CmdletContext, prompt: string | undefined): Promise<string | undefined> {
  if (typeof args.Password === "string") return args.Password;
  if (typeof args.PasswordFile === "string") return readSecretFile(ctx.resolvePath(args.PasswordFile));
  return prompt === undefined ? undefined : ctx.host.readSecret(prompt);
}

const passwordParams = [
  { name: "Password", type: "secret" as const, help: "PFX password; or use -PasswordFile, $env:NAME, (Read-Host -AsSecureString)" },
  { name: "PasswordFile", type: "string" as const, help: "File whose first line is the PFX password" },
];

export const certificateCmdlets: CmdletDef[] = [
  {
    name: "New-ExchangeCertificate",
    synopsis: "Creates a self-signed certificate, or with -GenerateRequest a key pair and PKCS#10 request.",
    table: CERT_TABLE,
    params: [
      { name: "GenerateRequest", type: "switch" },
      { name: "SubjectName", type: "string" },
      { name: "DomainName", type: "strings" },
      { name: "FriendlyName", type: "string" },
      { name: "Path", type: "string", help: "Where to write the request (Base64, or DER with -BinaryEncoded)" },
      { name: "KeySize", type: "string", help: "2048 (default), 3072, 4096; or P-256 for ECDSA" },
      { name: "KeyAlgorithm", type: "string", help: "RSA (default) or ECDSA" },
      { name: "PrivateKeyExportable", type: "bool" },
      { name: "BinaryEncoded", type: "switch" },
      { name: "Services", type: "strings", help: "Self-signed only: services to enable (default SMTP)" },
      { name: "Force", type: "switch" },
    ],
    async run(args, ctx) {
      const generateRequest = args.GenerateRequest === true;
      if (!generateRequest && args.Path !== undefined) {
        throw new SealpostError("INVALID_ARGUMENT", "New-ExchangeCertificate: -Path is used with -GenerateRequest (a self-signed certificate stays in the store; use Export-ExchangeCertificate to copy it).");
      }
      if (generateRequest && args.Services !== undefined) {
        throw new SealpostError("INVALID_ARGUMENT", "New-ExchangeCertificate: -Services applies to a certificate, not to a request; enable the issued certificate after importing it.");
      }
      const out = typeof args.Path === "string" ? ctx.resolvePath(args.Path) : undefined;
      if (out) checkWritable(out);
      const algo = typeof args.KeyAlgorithm === "string" ? args.KeyAlgorithm.toUpperCase() : "RSA";
      if (algo !== "RSA" && algo !== "ECDSA") throw new SealpostError("KEY_UNSUPPORTED", `New-ExchangeCertificate: -KeyAlgorithm '${String(args.KeyAlgorithm)}' is not supported; use RSA or ECDSA.`);
      if (algo === "ECDSA" && args.KeySize !== undefined && !/^(256|P-?256)$/i.test(String(args.KeySize))) {
        throw new SealpostError("KEY_UNSUPPORTED", "New-ExchangeCertificate: ECDSA keys use the P-256 curve (-KeySize 256 or leave it out).");
      }
      const keySize = algo === "ECDSA" ? "P-256" : (args.KeySize as string | undefined);
      try {
        parseKeySpec(keySize);
      } catch (e) {
        if (isSealpostError(e)) throw new SealpostError(e.code, `New-ExchangeCertificate: -KeySize: ${e.message}`);
        throw e;
      }
      const domainNames = args.DomainName as string[] | undefined;
      const result = await ctx.api.certificates.newCertificate(
        {
          generateRequest,
          ...(typeof args.SubjectName === "string" ? { subjectName: args.SubjectName } : {}),
          ...(domainNames ? { domainNames } : {}),
          ...(keySize !== undefined ? { keySize } : {}),
          ...(typeof args.FriendlyName === "string" ? { friendlyName: args.FriendlyName } : {}),
          privateKeyExportable: args.PrivateKeyExportable === true,
          ...(args.Services ? { services: args.Services as string[] } : {}),
        },
        out ? async (r) => writeOutputFile(out, args.BinaryEncoded === true ? r.der : r.pem) : undefined,
      );
      if (generateRequest && !out) return [result.requestPem as string];
      return [result.certificate];
    },
  },
  {
    name: "Import-ExchangeCertificate",
    synopsis: "Imports an issued certificate (bound to its pending request) or a PFX file with its key.",
    table: CERT_TABLE,
    params: [
      { name: "Path", type: "string", position: 0, mandatory: true },
      ...passwordParams,
      { name: "FriendlyName", type: "string" },
      { name: "PrivateKeyExportable", type: "bool" },
    ],
    async run(args, ctx) {
      const data = readInputFile(ctx.resolvePath(args.Path as string));
      const base = {
        data,
        ...(typeof args.FriendlyName === "string" ? { friendlyName: args.FriendlyName } : {}),
        privateKeyExportable: args.PrivateKeyExportable === true,
      };
      const password = await passwordArg(args, ctx, undefined);
      try {
        return [await ctx.api.certificates.importCertificate({ ...base, ...(password !== undefined ? { password } : {}) })];
      } catch (e) {
        // No password given and the PFX needs one: ask, if there is a terminal.
        if (password === undefined && isSealpostError(e, "PFX_BAD_PASSWORD")) {
          const asked = await ctx.host.readSecret("PFX password: ");
          return [await ctx.api.certificates.importCertificate({ ...base, password: asked })];
        }
        throw e;
      }
    },
  },
  {
    name: "Enable-ExchangeCertificate",
    synopsis: "Enables a certificate for services (SMTP); -Services None clears them.",
    params: [
      { name: "Thumbprint", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Identity"] },
      { name: "Services", type: "strings", mandatory: true },
      FORCE_PARAM,
    ],
    validate(args) {
      parseServices(args.Services as string[]);
    },
    async run(args, ctx) {
      await ctx.api.certificates.enableCertificate(args.Thumbprint as string, args.Services as string[], changeOptions(args, ctx));
      return [];
    },
  },
  {
    name: "Get-ExchangeCertificate",
    synopsis: "Lists this server's certificates and pending requests.",
    table: CERT_TABLE,
    params: [
      { name: "Thumbprint", type: "string", position: 0, aliases: ["Identity"] },
      { name: "DomainName", type: "strings" },
    ],
    async run(args, ctx) {
      let certs = await ctx.api.certificates.getCertificates(args.Thumbprint as string | undefined);
      if (args.DomainName) {
        const wanted = (args.DomainName as string[]).map((d) => normalizeDomain(d, { allowSingleLabel: true }));
        certs = certs.filter((c) => wanted.some((d) => c.CertificateDomains.some((n) => matchesCertificateName(n, d))));
      }
      return certs;
    },
  },
  {
    name: "Export-ExchangeCertificate",
    synopsis: "Exports a certificate with its private key as a password-protected PFX.",
    params: [
      { name: "Thumbprint", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Identity"] },
      { name: "Path", type: "string" },
      ...passwordParams,
      { name: "BinaryEncoded", type: "switch" },
    ],
    validate(args, ctx) {
      if (typeof args.Path === "string") checkWritable(ctx.resolvePath(args.Path));
    },
    async run(args, ctx) {
      const out = typeof args.Path === "string" ? ctx.resolvePath(args.Path) : undefined;
      if (out) checkWritable(out);
      // Check exportability before asking for a password nobody will use.
      ctx.api.certificates.assertExportable(args.Thumbprint as string);
      const password = await passwordArg(args, ctx, "Password for the PFX file: ");
      const pfx = await ctx.api.certificates.exportCertificate(args.Thumbprint as string, password as string);
      // A file is always written as binary PFX, which every importer reads;
      // on screen the PFX is shown in Base64 (Exchange's default encoding).
      if (out) {
        writeOutputFile(out, pfx, 0o600);
        return [];
      }
      return [args.BinaryEncoded === true ? pfx.toString("base64") : pfx.toString("base64").replace(/.{1,64}/g, "$&\n").trimEnd()];
    },
  },
  {
    name: "Remove-ExchangeCertificate",
    synopsis: "Removes a certificate or pending request and its private key from this server.",
    params: [
      { name: "Thumbprint", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Identity"] },
      { name: "Confirm", type: "switch" },
      FORCE_PARAM,
    ],
    async run(args, ctx) {
      await ctx.api.certificates.removeCertificate(args.Thumbprint as string, changeOptions(args, ctx));
      return [];
    },
  },
];
