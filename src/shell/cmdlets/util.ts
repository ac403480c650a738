// Shell utilities: formatting, help, and the two PowerShell helpers that
// Exchange's documentation uses to pass secrets (Read-Host -AsSecureString,
// Get-Content). They are the shell's language: they run in the client
// (clientSide), never over the admin door. Get-Command and Get-Help read the
// same description as the door's CmdletInfo: what the caller may run.
import { readInputFile } from "../../config/files.js";
import { describeCmdlets, helpText } from "../../adminapi/cmdlet-info.js";
import { SealpostError } from "../../errors/errors.js";
import { formatList, formatTable } from "../format.js";
import { Formatted, type CmdletContext, type CmdletDef } from "../shell.js";

/** The cmdlets the shell's caller may run, described (the remote door's CmdletInfo, or the local table's). */
async function described(all: () => CmdletDef[], ctx: CmdletContext) {
  return ctx.cmdletInfo ? ctx.cmdletInfo() : describeCmdlets(all(), ctx.caller?.roles ?? ["Organization Management"]);
}

export function utilityCmdlets(all: () => CmdletDef[]): CmdletDef[] {
  return [
    {
      name: "Format-List",
      clientSide: true,
      aliases: ["FL"],
      synopsis: "Shows each object as a list of properties.",
      collectsInput: true,
      params: [{ name: "Property", type: "strings", position: 0 }],
      async run(args, _ctx, input) {
        return [new Formatted(formatList(input, args.Property as string[] | undefined))];
      },
    },
    {
      name: "Format-Table",
      clientSide: true,
      aliases: ["FT"],
      synopsis: "Shows objects as a table.",
      collectsInput: true,
      params: [
        { name: "Property", type: "strings", position: 0 },
        { name: "AutoSize", type: "switch" },
      ],
      async run(args, _ctx, input) {
        return [new Formatted(formatTable(input, args.Property as string[] | undefined))];
      },
    },
    {
      name: "Get-Command",
      clientSide: true,
      synopsis: "Lists the cmdlets.",
      table: ["Name", "Synopsis"],
      params: [{ name: "Name", type: "string", position: 0 }],
      async run(args, ctx) {
        const pattern = typeof args.Name === "string" ? new RegExp(`^${args.Name.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i") : undefined;
        return (await described(all, ctx))
          .filter((c) => !pattern || pattern.test(c.Name))
          .map((c) => ({ Name: c.Name, Synopsis: c.Synopsis, RoleGroup: c.RoleGroup }));
      },
    },
    {
      name: "Get-Help",
      clientSide: true,
      synopsis: "Shows a cmdlet's parameters.",
      params: [{ name: "Name", type: "string", position: 0, mandatory: true }],
      async run(args, ctx) {
        const wanted = String(args.Name).toLowerCase();
        const info = (await described(all, ctx)).find((c) => c.Name.toLowerCase() === wanted || c.Aliases.some((a) => a.toLowerCase() === wanted));
        if (!info) throw new SealpostError("SHELL_UNKNOWN_CMDLET", `No help: '${String(args.Name)}' is not a cmdlet you may run.`);
        return [new Formatted(helpText(info))];
      },
    },
    {
      name: "Read-Host",
      clientSide: true,
      synopsis: "Asks for a value on the terminal; -AsSecureString hides what is typed.",
      params: [
        { name: "Prompt", type: "string", position: 0 },
        { name: "AsSecureString", type: "switch" },
      ],
      async run(args, ctx) {
        const prompt = `${typeof args.Prompt === "string" ? args.Prompt : ""}: `;
        return [args.AsSecureString === true ? await ctx.host.readSecret(prompt) : await ctx.host.readLine(prompt)];
      },
    },
    {
      name: "Get-Content",
      clientSide: true,
      synopsis: "Reads a text file, one output per line.",
      params: [{ name: "Path", type: "string", position: 0, mandatory: true }],
      async run(args, ctx) {
        const file = ctx.resolvePath(args.Path as string);
        return readInputFile(file).toString("utf8").replace(/\r?\n$/, "").split(/\r?\n/);
      },
    },
  ];
}
