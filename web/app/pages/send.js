// Organization Configuration > Hub Transport > Send connectors: the list and
// a connector's properties; the Network tab carries "Enable Domain Security
// (Mutual Auth TLS)", DNS routing or smart hosts, FQDN and port. The server
// refuses the combinations the shell refuses, with the same message.
import { invoke } from "../api.js";
import { h, field, checkbox, tabs, uid } from "../dom.js";
import { denied } from "../dialog.js";
import { lines, saveButton, listAndProperties } from "./connector-form.js";

function properties(ctx, c) {
  const cmdlet = "Set-SendConnector";
  const off = !!denied(cmdlet);
  const enabled = checkbox("Enabled", c.Enabled, { disabled: off });
  const spaces = field("Address space (one per line):", { tag: "textarea", value: (c.AddressSpaces ?? []).join("\n"), disabled: off });
  const level = field("Protocol logging level:", { tag: "select", options: ["None", "Verbose"], value: c.ProtocolLoggingLevel, disabled: off });
  const group = uid("route");
  const dns = h("input", { type: "radio", name: group, id: `${group}-dns`, checked: !!c.DNSRoutingEnabled, disabled: off });
  const smart = h("input", { type: "radio", name: group, id: `${group}-smart`, checked: !c.DNSRoutingEnabled, disabled: off });
  const hosts = field("Smart hosts (one per line):", { tag: "textarea", value: (c.SmartHosts ?? []).join("\n"), disabled: off });
  const ds = checkbox("Enable Domain Security (Mutual Auth TLS)", c.DomainSecureEnabled, { disabled: off });
  const fqdn = field("Specify the FQDN this connector will provide in response to HELO or EHLO:", { value: c.Fqdn ?? "", disabled: off });
  const port = field("Port:", { value: String(c.Port ?? 25), inputmode: "numeric", disabled: off });
  const requireTls = checkbox("Require TLS (RequireTLS)", c.RequireTLS, { disabled: off });
  const general = h("div", {}, enabled.row, spaces.row, level.row);
  const network = h(
    "div",
    {},
    h("fieldset", {}, h("legend", {}, "Select how to send mail with this connector:"),
      h("div", { class: "check" }, dns, h("label", { for: dns.id }, 'Use domain name system (DNS) "MX" records to route mail automatically')),
      h("div", { class: "check" }, smart, h("label", { for: smart.id }, "Route mail through the following smart hosts:")),
      hosts.row),
    ds.row,
    requireTls.row,
    fqdn.row,
    port.row,
  );
  const save = saveButton(ctx, cmdlet, c.Name, [
    { key: "Enabled", read: () => enabled.input.checked, original: c.Enabled },
    { key: "AddressSpaces", read: () => lines(spaces.input.value), original: c.AddressSpaces },
    { key: "ProtocolLoggingLevel", read: () => level.input.value, original: c.ProtocolLoggingLevel },
    { key: "DNSRoutingEnabled", read: () => dns.checked, original: c.DNSRoutingEnabled },
    { key: "SmartHosts", read: () => lines(hosts.input.value), original: c.SmartHosts },
    { key: "DomainSecureEnabled", read: () => ds.input.checked, original: c.DomainSecureEnabled },
    { key: "RequireTLS", read: () => requireTls.input.checked, original: c.RequireTLS },
    { key: "Fqdn", read: () => fqdn.input.value.trim() || null, original: c.Fqdn ?? null },
    { key: "Port", read: () => port.input.value.trim(), original: String(c.Port ?? 25) },
  ], `${c.Name} Properties`);
  return h("section", { class: "card", "aria-label": `${c.Name} Properties` }, h("h2", {}, `${c.Name} Properties`), tabs(`${c.Name} Properties`, [["General", general], ["Network", network]], ctx.tab === "Network" ? 1 : 0), h("div", { class: "dialog-buttons" }, save));
}

export async function sendConnectors(ctx) {
  const rows = await invoke("Get-SendConnector");
  return listAndProperties("Send connectors", rows, [["Name"], ["Enabled"], ["AddressSpaces", "Address spaces"], ["DNSRoutingEnabled", "DNS routing"], ["SmartHosts", "Smart hosts"], ["DomainSecureEnabled", "Domain Security"], ["ProtocolLoggingLevel", "Protocol logging"]], (r) => r.Name, (c) => properties(ctx, c));
}
