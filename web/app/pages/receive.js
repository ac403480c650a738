// Edge Transport (this server) > Receive connectors: the list and a
// connector's properties: General (FQDN, protocol logging), Authentication
// ("Transport Layer Security (TLS)", "Enable Domain Security (Mutual Auth
// TLS)"), Network (bindings, remote IP ranges) and Limits.
import { invoke } from "../api.js";
import { h, field, checkbox, tabs } from "../dom.js";
import { denied } from "../dialog.js";
import { lines, saveButton, listAndProperties } from "./connector-form.js";

function properties(ctx, c) {
  const cmdlet = "Set-ReceiveConnector";
  const off = !!denied(cmdlet);
  const mech = Array.isArray(c.AuthMechanism) ? c.AuthMechanism : String(c.AuthMechanism ?? "").split(/[,\s]+/).filter(Boolean);
  const hasTls = mech.some((m) => m.toLowerCase() === "tls");
  const enabled = checkbox("Enabled", c.Enabled, { disabled: off });
  const fqdn = field("Specify the FQDN this connector will provide in response to HELO or EHLO:", { value: c.Fqdn ?? "", disabled: off });
  const level = field("Protocol logging level:", { tag: "select", options: ["None", "Verbose"], value: c.ProtocolLoggingLevel, disabled: off });
  const tls = checkbox("Transport Layer Security (TLS)", hasTls, { disabled: off });
  const ds = checkbox("Enable Domain Security (Mutual Auth TLS)", c.DomainSecureEnabled, { disabled: off });
  const bindings = field("Local IP addresses and ports (bindings, one per line):", { tag: "textarea", value: (c.Bindings ?? []).join("\n"), disabled: off });
  const ranges = field("Receive mail from remote servers that have these IP addresses (one range per line):", { tag: "textarea", value: (c.RemoteIPRanges ?? []).join("\n"), disabled: off });
  const maxSize = field("Maximum message size:", { value: String(c.MaxMessageSize ?? ""), disabled: off });
  const maxRcpt = field("Maximum recipients per message:", { value: String(c.MaxRecipientsPerMessage ?? ""), disabled: off });
  const maxConn = field("Maximum inbound connections:", { value: String(c.MaxInboundConnection ?? ""), disabled: off });
  const maxPerSource = field("Maximum inbound connections per source:", { value: String(c.MaxInboundConnectionPerSource ?? ""), disabled: off });
  const general = h("div", {}, enabled.row, fqdn.row, level.row);
  const auth = h("fieldset", {}, h("legend", {}, "Specify which security mechanisms are available for incoming connections:"), tls.row, ds.row);
  const network = h("div", {}, bindings.row, ranges.row);
  const limits = h("div", {}, maxSize.row, maxRcpt.row, maxConn.row, maxPerSource.row);
  const origMech = hasTls ? ["Tls"] : ["None"];
  const save = saveButton(ctx, cmdlet, c.Name, [
    { key: "Enabled", read: () => enabled.input.checked, original: c.Enabled },
    { key: "Fqdn", read: () => fqdn.input.value.trim(), original: c.Fqdn ?? "" },
    { key: "ProtocolLoggingLevel", read: () => level.input.value, original: c.ProtocolLoggingLevel },
    { key: "AuthMechanism", read: () => (tls.input.checked ? ["Tls"] : ["None"]), original: origMech },
    { key: "DomainSecureEnabled", read: () => ds.input.checked, original: c.DomainSecureEnabled },
    { key: "Bindings", read: () => lines(bindings.input.value), original: c.Bindings },
    { key: "RemoteIPRanges", read: () => lines(ranges.input.value), original: c.RemoteIPRanges },
    { key: "MaxMessageSize", read: () => maxSize.input.value.trim(), original: String(c.MaxMessageSize ?? "") },
    { key: "MaxRecipientsPerMessage", read: () => maxRcpt.input.value.trim(), original: String(c.MaxRecipientsPerMessage ?? "") },
    { key: "MaxInboundConnection", read: () => maxConn.input.value.trim(), original: String(c.MaxInboundConnection ?? "") },
    { key: "MaxInboundConnectionPerSource", read: () => maxPerSource.input.value.trim(), original: String(c.MaxInboundConnectionPerSource ?? "") },
  ], `${c.Name} Properties`);
  return h("section", { class: "card", "aria-label": `${c.Name} Properties` }, h("h2", {}, `${c.Name} Properties`), tabs(`${c.Name} Properties`, [["General", general], ["Authentication", auth], ["Network", network], ["Limits", limits]]), h("div", { class: "dialog-buttons" }, save));
}

export async function receiveConnectors(ctx) {
  const rows = await invoke("Get-ReceiveConnector");
  return listAndProperties("Receive connectors", rows, [["Name"], ["Enabled"], ["Bindings"], ["AuthMechanism", "Authentication"], ["DomainSecureEnabled", "Domain Security"], ["ProtocolLoggingLevel", "Protocol logging"]], (r) => r.Name, (c) => properties(ctx, c));
}
