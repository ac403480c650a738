// `sealpost send-connector list|show|new|set|remove` (Get-/New-/Set-/Remove-SendConnector),
// run through the admin door (door.ts).
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import { formatList, formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";
import { given, runCmdlet, runOne } from "./door.js";

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(",").map((x) => x.trim()).filter(Boolean)];

interface PatchOptions {
  addressSpaces?: string[];
  dnsRoutingEnabled?: string;
  smartHosts?: string[];
  port?: string;
  fqdn?: string;
  domainSecureEnabled?: string;
  requireTls?: string;
  ignoreStarttls?: string;
  connectionInactivityTimeout?: string;
  maxMessageSize?: string;
  sourceTransportServers?: string[];
  protocolLoggingLevel?: string;
  enabled?: string;
  exchangeOrganizationMarks?: string;
}

function bool(name: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (/^(true|\$true|1|yes)$/i.test(v)) return true;
  if (/^(false|\$false|0|no)$/i.test(v)) return false;
  throw new SealpostError("INVALID_ARGUMENT", `--${name} '${v}' is not valid: give true or false.`);
}

/** The options given, as the *-SendConnector cmdlets' parameters (booleans checked here, as before). */
function parametersOf(o: PatchOptions & { force?: boolean }): Record<string, unknown> {
  return given({
    AddressSpaces: o.addressSpaces,
    DNSRoutingEnabled: bool("dns-routing-enabled", o.dnsRoutingEnabled),
    SmartHosts: o.smartHosts,
    Port: o.port,
    Fqdn: o.fqdn,
    DomainSecureEnabled: bool("domain-secure-enabled", o.domainSecureEnabled),
    RequireTLS: bool("require-tls", o.requireTls),
    IgnoreSTARTTLS: bool("ignore-starttls", o.ignoreStarttls),
    ConnectionInactivityTimeOut: o.connectionInactivityTimeout,
    MaxMessageSize: o.maxMessageSize,
    SourceTransportServers: o.sourceTransportServers,
    ProtocolLoggingLevel: o.protocolLoggingLevel,
    Enabled: bool("enabled", o.enabled),
    ExchangeOrganizationMarks: bool("exchange-organization-marks", o.exchangeOrganizationMarks),
    Force: o.force === true ? true : undefined,
  });
}

function withPatchOptions(c: Command): Command {
  return c
    .option("--address-spaces <list>", 'address spaces, "SMTP:domain;cost" (comma list; replaces)', list)
    .option("--dns-routing-enabled <bool>", "route by MX records (true) or through smart hosts (false)")
    .option("--smart-hosts <list>", "smart hosts: host, host:port, [IP] (comma list; replaces)", list)
    .option("--port <n>", "the port to connect to (default 25)")
    .option("--fqdn <name>", "EHLO name and the name our certificate must carry (\"\" for the server's name)")
    .option("--domain-secure-enabled <bool>", "may carry Domain Security partners' mail (needs DNS routing, STARTTLS not ignored)")
    .option("--require-tls <bool>", "refuse to send without TLS")
    .option("--ignore-starttls <bool>", "never use STARTTLS")
    .option("--connection-inactivity-timeout <timespan>", "hh:mm:ss")
    .option("--max-message-size <size>", "e.g. 10MB")
    .option("--source-transport-servers <list>", "edge servers that may use this connector (comma list; replaces)", list)
    .option("--protocol-logging-level <level>", "None or Verbose")
    .option("--enabled <bool>", "true or false")
    .option("--exchange-organization-marks <bool>", "an internal Exchange next hop over mutual TLS: add Exchange's Domain Secured marks")
    .option("--force", "make the change even if it turns Domain Security off for listed partners (a WARNING says what stops)");
}

export function registerSendConnectorCommands(program: Command): void {
  const sc = program.command("send-connector").description("send connectors (Get-/New-/Set-/Remove-SendConnector)");
  sc.command("list")
    .description("every send connector")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Get-SendConnector", {});
        print(cmd, v, () => formatTable(v, ["Name", "AddressSpaces", "DNSRoutingEnabled", "SmartHosts", "DomainSecureEnabled", "Enabled"]).trim());
      });
    });
  sc.command("show <name>")
    .description("one send connector, every property")
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Get-SendConnector", { Identity: name });
        print(cmd, v[0], () => formatList(v).trim());
      });
    });
  withPatchOptions(sc.command("new <name>").description("create a send connector")).action(async (name: string, o: PatchOptions & { force?: boolean }, cmd: Command) => {
    const parameters = { Name: name, ...parametersOf(o) };
    await withApi(cmd, async (api) => {
      const v = await runOne(api, "New-SendConnector", parameters);
      print(cmd, v, () => formatList([v]).trim());
    });
  });
  withPatchOptions(sc.command("set <name>").description("change a send connector (Exchange's rules apply; one bad value changes nothing)")).action(async (name: string, o: PatchOptions & { force?: boolean }, cmd: Command) => {
    const parameters = { Identity: name, ...parametersOf(o) };
    await withApi(cmd, async (api) => {
      await runCmdlet(api, "Set-SendConnector", parameters);
      const v = await runOne(api, "Get-SendConnector", { Identity: name });
      print(cmd, v, () => formatList([v]).trim());
    });
  });
  sc.command("remove <name>")
    .description("remove a send connector")
    .option("--force", "remove it even if that turns Domain Security off for listed partners (a WARNING says what stops)")
    .action(async (name: string, o: { force?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        await runCmdlet(api, "Remove-SendConnector", given({ Identity: name, Force: o.force === true ? true : undefined }), { confirm: false });
        print(cmd, { Removed: name }, () => `Removed the send connector ${name}.`);
      });
    });
}
