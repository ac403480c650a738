// Trusted root and intermediate certificates of the organization, and the
// organization-wide settings that exist so far (Get/Set-TransportConfig).
import { readInputFile } from "../../config/files.js";
import type { TrustedKind } from "../../org/store.js";
import type { CmdletDef } from "../shell.js";

const TABLE = ["Thumbprint", "NotAfter", "Subject"];

function trustCmdlets(kind: TrustedKind, noun: string): CmdletDef[] {
  return [
    {
      name: `Add-${noun}`,
      synopsis: `Adds the ${kind} certificate(s) in a file (PEM bundle, DER or PKCS#7) to the organization's trust.`,
      table: TABLE,
      params: [{ name: "Path", type: "string", position: 0, mandatory: true }],
      async run(args, ctx) {
        const file = ctx.resolvePath(args.Path as string);
        return ctx.api.trust.add(kind, readInputFile(file));
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

export const trustCmdletsAll: CmdletDef[] = [
  ...trustCmdlets("root", "TrustedRootCertificate"),
  ...trustCmdlets("intermediate", "IntermediateCertificate"),
];
