// Test-Mailflow (seed procedure 5).
import type { CmdletDef } from "../shell.js";

export const mailflowCmdlets: CmdletDef[] = [
  {
    name: "Test-Mailflow",
    synopsis: "Sends a probe message through the real send path and reports the next hop, TLS, the server's certificate, each check, and whether it was domain-secured.",
    params: [
      { name: "TargetEmailAddress", type: "string", position: 0, mandatory: true },
      { name: "Detailed", type: "switch" },
      { name: "From", type: "string", help: "the probe's sender (default postmaster@ an authoritative domain your certificate names)" },
    ],
    async run(args, ctx) {
      return [await ctx.api.mailflow.test(args.TargetEmailAddress as string, { ...(args.Detailed === true ? { detailed: true } : {}), ...(args.From !== undefined ? { from: args.From as string } : {}) })];
    },
  },
];
