// Trusted root and intermediate certificates of the organization, the
// organization-wide settings that exist so far (Get/Set-TransportConfig), and
// this server's revocation cache (Update-RevocationCache).
import type { TrustedKind } from "../../org/store.js";
import type { CmdletDef } from "../shell.js";
import { fileDataBytes, fileDataParam, requirePathOrFileData } from "./filedata.js";

const TABLE = ["Thumbprint", "NotAfter", "Subject"];

function trustCmdlets(kind: TrustedKind, noun: string): CmdletDef[] {
  return [
    {
      name: `Add-${noun}`,
      synopsis: `Adds the ${kind} certificate(s) in a file (PEM bundle, DER or PKCS#7) to the organization's trust.`,
      table: TABLE,
      params: [
        { name: "Path", type: "string", position: 0, clientFile: "read", help: "the certificate file on the shell's machine (sent as -FileData)" },
        fileDataParam("the certificate(s): PEM bundle, DER or PKCS#7, base64"),
      ],
      validate(args) {
        requirePathOrFileData(`Add-${noun}`, args);
      },
      async run(args, ctx) {
        return ctx.api.trust.add(kind, fileDataBytes(`Add-${noun}`, args.FileData));
      },
    },
    {
      name: `Get-${noun}`,
      synopsis: `Lists the organization's trusted ${kind} certificates.`,
      table: TABLE,
      params: [{ name: "Thumbprint", type: "string", position: 0, aliases: ["Identity"] }],
      async run(args, ctx) {
        return ctx.api.trust.list(kind, args.Thumbprint as string | undefined);
      },
    },
    {
      name: `Remove-${noun}`,
      synopsis: `Removes a trusted ${kind} certificate from the organization's trust.`,
      params: [
        { name: "Thumbprint", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Identity"] },
        { name: "Confirm", type: "switch" },
      ],
      async run(args, ctx) {
        await ctx.api.trust.remove(kind, args.Thumbprint as string);
        return [];
      },
    },
  ];
}

const updateRevocationCache: CmdletDef = {
  name: "Update-RevocationCache",
  synopsis: "Fetches again, now, the cached CRLs and OCSP answers (all, -Url <CRL or OCSP URL>, or one certificate's: -Certificate <thumbprint> or -Path <file>) and reports what each fetch got.",
  table: ["Source", "Status", "ThisUpdate", "NextUpdate", "Url", "Error"],
  params: [
    { name: "Url", type: "string", help: "a CRL distribution point or OCSP responder URL: only what comes from it" },
    { name: "Certificate", type: "string", aliases: ["Thumbprint"], fromPipelineProperty: true, help: "thumbprint of a certificate of this server, a trusted one, or one the cache holds answers for" },
    { name: "Path", type: "string", clientFile: "read", help: "a certificate file (PEM bundle, DER, PKCS#7) on the shell's machine: the certificate first, its issuing CA may follow (sent as -FileData)" },
    fileDataParam("a certificate file's bytes, base64"),
  ],
  async run(args, ctx) {
    return ctx.api.trust.updateRevocationCache({
      ...(typeof args.Url === "string" ? { url: args.Url } : {}),
      ...(typeof args.Certificate === "string" ? { thumbprint: args.Certificate } : {}),
      ...(args.FileData !== undefined ? { data: fileDataBytes("Update-RevocationCache", args.FileData) } : {}),
    });
  },
};

export const trustCmdletsAll: CmdletDef[] = [
  ...trustCmdlets("root", "TrustedRootCertificate"),
  ...trustCmdlets("intermediate", "IntermediateCertificate"),
  updateRevocationCache,
];
