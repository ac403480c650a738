// Shell utilities: formatting, help, and the two PowerShell helpers that
// Exchange's documentation uses to pass secrets (Read-Host -AsSecureString,
// Get-Content).
import { readInputFile } from "../../config/files.js";
import { SealpostError } from "../../errors/errors.js";
import { formatList, formatTable } from "../format.js";
import { Formatted, type CmdletDef } from "../shell.js";

export function utilityCmdlets(all: () => CmdletDef[]): CmdletDef[] {
  return [
    {
      name: "Format-List",
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
      synopsis: "Lists the cmdlets.",
      table: ["Name", "Synopsis"],
      params: [{ name: "Name", type: "string", position: 0 }],
      async run(args) {
        const pattern = typeof args.Name === "string" ? new RegExp(`^${args.Name.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i") : undefined;
        return all()
          .filter((c) => !pattern || pattern.test(c.name))
          .map((c) => ({ Name: c.name, Synopsis: c.synopsis }));
      },
    },
    {
      name: "Get-Help",
      synopsis: "Shows a cmdlet's parameters.",
      params: [{ name: "Name", type: "string", position: 0, mandatory: true }],
      async run(args) {
        const def = all().find((c) => c.name.toLowerCase() === String(args.Name).toLowerCase() || c.aliases?.some((a) => a.toLowerCase() === String(args.Name).toLowerCase()));
        if (!def) throw new SealpostError("SHELL_UNKNOWN_CMDLET", `No help: '${String(args.Name)}' is not a cmdlet.`);
        const lines = [`${def.name}: ${def.synopsis}`, ""];
        for (const p of def.params) {
          const flags = [p.mandatory ? "mandatory" : "", p.position !== undefined ? `position ${p.position}` : "", p.fromPipelineProperty ? "from pipeline" : ""].filter(Boolean).join(", ");
          lines.push(`  -${p.name} <${p.type}>${flags ? ` (${flags})` : ""}${p.help ? `  ${p.help}` : ""}`);
        }
        return [new Formatted(lines.join("\n"))];
      },
    },
    {
      name: "Read-Host",
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
      synopsis: "Reads a text file, one output per line.",
      params: [{ name: "Path", type: "string", position: 0, mandatory: true }],
      async run(args, ctx) {
        const file = ctx.resolvePath(args.Path as string);
        return readInputFile(file).toString("utf8").replace(/\r?\n$/, "").split(/\r?\n/);
      },
    },
  ];
}
