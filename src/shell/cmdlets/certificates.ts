// The ExchangeCertificate cmdlets, as Exchange 2007 documents them. Files
// stay on the client's machine: the shell reads -Path and sends its bytes as
// -FileData (base64, as Exchange 2010's Import-ExchangeCertificate takes
// them), and writes the FileData of a result (an exported PFX, a certificate
// request) to -Path itself; the cmdlets never open a file.
import { SealpostError, isSealpostError } from "../../errors/errors.js";
import { parseServices } from "../../admin/certificates.js";
import { checkWritable, writeOutputFile } from "../../config/files.js";
import { normalizeDomain } from "../../pki/domain.js";
import { parseKeySpec } from "../../pki/keys.js";
import { matchesCertificateName } from "../../pki/names.js";
import { changeOptions, fileDataOf, FORCE_PARAM, type CmdletContext, type CmdletDef } from "../shell.js";
import { fileDataBytes, fileDataParam, requirePathOrFileData } from "./filedata.js";

const CERT_TABLE = ["Thumbprint", "Services", "Subject"];

/** -Password (the shell puts -PasswordFile's first line there), or a prompt on the terminal. */
async function passwordArg(args: Record<string, unknown>, ctx: CmdletContext, prompt: string | undefined): Promise<string | undefined> {
  if (typeof args.Password === "string") return args.Password;
  return prompt === undefined ? undefined : ctx.host.readSecret(prompt);
}

const passwordParams = [
  { name: "Password", type: "secret" as const, help: "PFX password; or use -PasswordFile, $env:NAME, (Read-Host -AsSecureString)" },
  { name: "PasswordFile", type: "string" as const, clientFile: "secret" as const, help: "File (on the shell's machine) whose first line is the PFX password" },
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
      { name: "Path", type: "string", clientFile: "write", help: "Where the shell writes the request (Base64, or DER with -BinaryEncoded); over the door the result carries it as FileData" },
      { name: "KeySize", type: "string", values: ["2048", "3072", "4096", "P-256"], help: "2048 (default), 3072, 4096; or P-256 for ECDSA" },
      { name: "KeyAlgorithm", type: "string", values: ["RSA", "ECDSA"], help: "RSA (default) or ECDSA" },
      { name: "PrivateKeyExportable", type: "bool" },
      { name: "BinaryEncoded", type: "switch" },
      { name: "Services", type: "strings", help: "Self-signed only: services to enable (default SMTP)" },
      { name: "Force", type: "switch" },
    ],
    validate(args, ctx) {
      if (args.GenerateRequest !== true && args.Path !== undefined) {
        throw new SealpostError("INVALID_ARGUMENT", "New-ExchangeCertificate: -Path is used with -GenerateRequest (a self-signed certificate stays in the store; use Export-ExchangeCertificate to copy it).");
      }
      if (typeof args.Path === "string") checkWritable(ctx.resolvePath(args.Path));
    },
    async run(args, ctx) {
      const generateRequest = args.GenerateRequest === true;
      if (args.Services !== undefined && generateRequest) {
        throw new SealpostError("INVALID_ARGUMENT", "New-ExchangeCertificate: -Services applies to a certificate, not to a request; enable the issued certificate after importing it.");
      }
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
      let request: Buffer | undefined;
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
        generateRequest
          ? async (r) => {
              request = args.BinaryEncoded === true ? r.der : Buffer.from(r.pem);
            }
          : undefined,
      );
      // A request is a file: it comes back as FileData beside the pending request's object.
      if (generateRequest) return [{ ...result.certificate, FileData: (request ?? Buffer.from(result.requestPem ?? "")).toString("base64") }];
      return [result.certificate];
    },
    clientResult(value, args, ctx) {
      if (args.GenerateRequest !== true) {
        if (args.Path !== undefined) throw new SealpostError("INVALID_ARGUMENT", "New-ExchangeCertificate: -Path is used with -GenerateRequest (a self-signed certificate stays in the store; use Export-ExchangeCertificate to copy it).");
        return value;
      }
      const first = value[0];
      const data = fileDataOf(first);
      if (typeof args.Path === "string" && data) {
        writeOutputFile(ctx.resolvePath(args.Path), data);
        const { FileData: _file, ...certificate } = first as Record<string, unknown>;
        return [certificate];
      }
      // On screen: the request in Base64 (PEM), as before.
      return data ? [args.BinaryEncoded === true ? data.toString("base64") : data.toString("utf8")] : value;
    },
  },
  {
    name: "Import-ExchangeCertificate",
    synopsis: "Imports an issued certificate (bound to its pending request) or a PFX file with its key.",
    table: CERT_TABLE,
    params: [
      { name: "Path", type: "string", position: 0, clientFile: "read", help: "The certificate or PFX file on the shell's machine (sent as -FileData)" },
      fileDataParam("the certificate (PEM, DER, PKCS#7) or PFX, base64"),
      ...passwordParams,
      { name: "FriendlyName", type: "string" },
      { name: "PrivateKeyExportable", type: "bool" },
    ],
    validate(args) {
      requirePathOrFileData("Import-ExchangeCertificate", args);
    },
    async run(args, ctx) {
      const data = fileDataBytes("Import-ExchangeCertificate", args.FileData);
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
      { name: "Services", type: "strings", mandatory: true, values: ["SMTP", "None"] },
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
      { name: "Path", type: "string", clientFile: "write", help: "Where the shell writes the PFX (mode 0600); over the door the result carries it as FileData" },
      ...passwordParams,
      { name: "BinaryEncoded", type: "switch" },
    ],
    validate(args, ctx) {
      if (typeof args.Path === "string") checkWritable(ctx.resolvePath(args.Path));
    },
    async run(args, ctx) {
      // Check exportability before asking for a password nobody will use.
      ctx.api.certificates.assertExportable(args.Thumbprint as string);
      const password = await passwordArg(args, ctx, "Password for the PFX file: ");
      const pfx = await ctx.api.certificates.exportCertificate(args.Thumbprint as string, password as string);
      return [{ Thumbprint: args.Thumbprint, FileData: pfx.toString("base64") }];
    },
    clientResult(value, args, ctx) {
      const pfx = fileDataOf(value[0]);
      if (!pfx) return value;
      // A file is always written as binary PFX, which every importer reads;
      // on screen the PFX is shown in Base64 (Exchange's default encoding).
      if (typeof args.Path === "string") {
        writeOutputFile(ctx.resolvePath(args.Path), pfx, 0o600);
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
