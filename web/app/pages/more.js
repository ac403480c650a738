// The other pages: Queue Viewer, Partners, Accepted domains, Trusted roots
// and intermediates, Message tracking, Protocol logs, Counters, Test mail
// flow. Each reads through a Get-/Test- cmdlet; changes go through the
// command dialog like every other page.
import { invoke } from "../api.js";
import { h, field, table, show, fileToBase64, uid } from "../dom.js";
import { openCommandDialog, actionButton } from "../dialog.js";

const columnsOf = (rows, prefer = []) => {
  if (!rows.length && !prefer.length) return [["Name"]];
  const keys = prefer.length ? prefer : Object.keys(rows[0] ?? {}).slice(0, 8);
  return keys.map((k) => [k]);
};

export async function queueViewer(ctx) {
  const queues = await invoke("Get-Queue");
  const filter = field("Filter by status, next hop or last error:", { value: ctx.filter ?? "", type: "search" });
  const host = h("div", {});
  const messages = h("div", { "aria-live": "polite" });
  let picked = queues.find((q) => q.Identity === ctx.queue);
  const actions = h("div", { class: "toolbar", role: "group", "aria-label": "Queue actions" });
  const queueDialog = (cmdlet, title) => openCommandDialog({ title, cmdlet, params: { Identity: picked.Identity }, onClose: ctx.rerender });
  const drawMessages = async () => {
    if (!picked) return messages.replaceChildren();
    messages.replaceChildren(h("p", { role: "status" }, "Loading messages…"));
    try {
      const rows = await invoke("Get-Message", { Queue: picked.Identity });
      messages.replaceChildren(pickList(`Messages in ${picked.Identity}`, rows, [["Identity"], ["FromAddress", "From"], ["Status"], ["Size"], ["Subject"], ["LastError", "Last error"]], (m) => show(m.Identity), (m) => {
        const none = m ? undefined : "Select a message first.";
        const remove = (ndr) => openCommandDialog({ title: ndr ? "Remove (with NDR)" : "Remove (without sending NDR)", intro: ndr ? "The message is removed and its sender gets a non-delivery report." : "The message is removed silently.", cmdlet: "Remove-Message", params: { Identity: m.Identity, WithNDR: ndr }, runLabel: "Remove", onClose: ctx.rerender });
        return [actionButton("Remove (with NDR)…", "Remove-Message", () => remove(true), { reason: none, class: "danger" }), actionButton("Remove (without sending NDR)…", "Remove-Message", () => remove(false), { reason: none, class: "danger" })];
      }));
    } catch (e) {
      messages.replaceChildren(h("div", { class: "error", role: "alert" }, `${e.code}: ${e.message}`));
    }
  };
  const draw = () => {
    const f = (filter.input.value ?? "").toLowerCase();
    ctx.filter = filter.input.value;
    const rows = queues.filter((q) => !f || [q.Status, q.NextHopDomain, q.LastError, q.Identity].some((v) => show(v).toLowerCase().includes(f)));
    host.replaceChildren(table("Queues", rows, [["Identity"], ["DeliveryType", "Delivery type"], ["Status"], ["MessageCount", "Messages"], ["NextHopDomain", "Next hop"], ["LastError", "Last error"], ["NextRetryTime", "Next retry"]], (q) => {
      picked = q;
      ctx.queue = q.Identity;
      draw();
      drawActions();
      drawMessages();
    }, picked?.Identity, (q) => q.Identity));
  };
  const drawActions = () => {
    const none = picked ? undefined : "Select a queue first.";
    actions.replaceChildren(
      actionButton("Retry Queue", "Retry-Queue", () => queueDialog("Retry-Queue", "Retry Queue"), { reason: none }),
      actionButton("Suspend Queue", "Suspend-Queue", () => queueDialog("Suspend-Queue", "Suspend Queue"), { reason: none }),
      actionButton("Resume Queue", "Resume-Queue", () => queueDialog("Resume-Queue", "Resume Queue"), { reason: none }),
    );
  };
  filter.input.addEventListener("input", draw);
  draw();
  drawActions();
  drawMessages();
  return h("div", {}, filter.row, actions, host, messages);
}

/** A selectable table and a toolbar whose buttons act on the selected row. */
function pickList(caption, rows, columns, keyOf, buttons) {
  let picked = rows[0];
  const host = h("div", {});
  const actions = h("div", { class: "toolbar", role: "group", "aria-label": `${caption} actions` });
  const draw = () => {
    host.replaceChildren(table(caption, rows, columns, (r) => {
      picked = r;
      draw();
    }, picked ? keyOf(picked) : undefined, keyOf));
    actions.replaceChildren(...buttons(picked));
  };
  draw();
  return h("div", {}, actions, host);
}

/** A file input read as base64 when chosen. */
function fileInput(label, accept) {
  const id = uid("file");
  const input = h("input", { type: "file", id, accept });
  const holder = { input };
  input.addEventListener("change", async () => {
    const f = input.files?.[0];
    holder.name = f?.name;
    holder.data = f ? await fileToBase64(f) : undefined;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  holder.row = h("div", { class: "field" }, h("label", { for: id }, label), input);
  return holder;
}

export async function partners(ctx) {
  const rows = await invoke("Get-DomainSecurePartner");
  const cmdlet = "Set-DomainSecurePartner";
  const edit = (p) => {
    const mode = field("Mode:", { tag: "select", options: ["Enforce", "ReportOnly"], value: p.Mode ?? "Enforce" });
    const match = field("Name match:", { tag: "select", options: ["Exact", "Subdomains"], value: p.NameMatch ?? "Exact" });
    const revocation = field("Revocation mode:", { tag: "select", options: ["Hard", "Soft"], value: p.RevocationMode ?? "Soft" });
    const collect = () => {
      const params = { Identity: p.Identity ?? p.Domain ?? p.Name };
      if (mode.input.value !== p.Mode) params.Mode = mode.input.value;
      if (match.input.value !== p.NameMatch) params.NameMatch = match.input.value;
      if (revocation.input.value !== p.RevocationMode) params.RevocationMode = revocation.input.value;
      return { params, files: {} };
    };
    openCommandDialog({ title: `Partner ${collect().params.Identity}`, intro: "The partner's Domain Security options.", cmdlet, params: collect().params, body: h("div", {}, mode.row, match.row, revocation.row), collect, runLabel: "Save", onClose: ctx.rerender });
  };
  const cols = rows.length ? Object.keys(rows[0]).filter((k) => typeof rows[0][k] !== "object" || Array.isArray(rows[0][k])).slice(0, 8).map((k) => [k]) : [["Identity"], ["Mode"], ["NameMatch", "Name match"], ["RevocationMode", "Revocation"]];
  return h("div", {}, h("p", {}, "One row per domain in either Domain Secure list (Transport settings), with its options."), pickList("Domain Secure partners", rows, cols, (r) => show(r.Identity ?? r.Domain ?? r.Name), (p) => [actionButton("Properties…", cmdlet, () => edit(p), { reason: p ? undefined : "There is no partner: add a domain to a Domain Secure list first." })]));
}

export async function acceptedDomains(ctx) {
  const rows = await invoke("Get-AcceptedDomain");
  const create = () => {
    const domain = field("Accepted domain:", { value: "" });
    const name = field("Name:", { value: "" });
    const type = field("Domain type:", { tag: "select", options: ["Authoritative", "InternalRelay", "ExternalRelay"], value: "Authoritative" });
    const collect = () => {
      if (!domain.input.value.trim()) throw new Error("Type the accepted domain, for example contoso.com.");
      const params = { DomainName: domain.input.value.trim() };
      if (name.input.value.trim()) params.Name = name.input.value.trim();
      if (type.input.value !== "Authoritative") params.DomainType = type.input.value;
      return { params, files: {} };
    };
    openCommandDialog({ title: "New Accepted Domain", cmdlet: "New-AcceptedDomain", params: {}, body: h("div", {}, domain.row, name.row, type.row), collect, runLabel: "New", onClose: ctx.rerender });
  };
  return pickList("Accepted domains", rows, [["Name"], ["DomainName", "Accepted domain"], ["DomainType", "Domain type"]], (r) => show(r.DomainName), (d) => [
    actionButton("New Accepted Domain…", "New-AcceptedDomain", create),
    actionButton("Remove…", "Remove-AcceptedDomain", () => openCommandDialog({ title: "Remove Accepted Domain", intro: `Mail for ${show(d.DomainName)} will no longer be accepted.`, cmdlet: "Remove-AcceptedDomain", params: { Identity: show(d.Name ?? d.DomainName) }, runLabel: "Remove", onClose: ctx.rerender }), { reason: d ? undefined : "Select an accepted domain first.", class: "danger" }),
  ]);
}

export async function trustedRoots(ctx) {
  const [roots, intermediates] = await Promise.all([invoke("Get-TrustedRootCertificate"), invoke("Get-IntermediateCertificate")]);
  const cols = [["Subject"], ["Issuer"], ["NotAfter", "Expires"], ["Thumbprint"]];
  const add = (cmdlet, title) => {
    const file = fileInput("Certificate file (PEM, DER or PKCS#7):", ".cer,.crt,.pem,.der,.p7b,.p7c");
    openCommandDialog({
      title,
      cmdlet,
      params: {},
      body: h("div", {}, file.row),
      collect: () => {
        if (!file.data) throw new Error("Choose the certificate's file.");
        return { params: { FileData: file.data }, files: { FileData: file.name } };
      },
      runLabel: "Add",
      onClose: ctx.rerender,
    });
  };
  const remove = (cmdlet, c) => openCommandDialog({ title: cmdlet, intro: `${show(c.Subject)} will no longer be trusted: partners whose certificates chain to it fail Domain Security.`, cmdlet, params: { Thumbprint: c.Thumbprint }, runLabel: "Remove", onClose: ctx.rerender });
  const key = (r) => show(r.Thumbprint);
  return h(
    "div",
    {},
    h("h2", {}, "Trusted root certificates"),
    pickList("Trusted root certificates", roots, cols, key, (c) => [actionButton("Add Trusted Root Certificate…", "Add-TrustedRootCertificate", () => add("Add-TrustedRootCertificate", "Add Trusted Root Certificate")), actionButton("Remove…", "Remove-TrustedRootCertificate", () => remove("Remove-TrustedRootCertificate", c), { reason: c ? undefined : "Select a root first.", class: "danger" })]),
    h("h2", {}, "Intermediate certificates"),
    pickList("Intermediate certificates", intermediates, cols, key, (c) => [actionButton("Add Intermediate Certificate…", "Add-IntermediateCertificate", () => add("Add-IntermediateCertificate", "Add Intermediate Certificate")), actionButton("Remove…", "Remove-IntermediateCertificate", () => remove("Remove-IntermediateCertificate", c), { reason: c ? undefined : "Select an intermediate first.", class: "danger" })]),
  );
}

export async function messageTracking(ctx) {
  const sender = field("Sender:", { value: ctx.sender ?? "" });
  const recipient = field("Recipient:", { value: ctx.recipient ?? "" });
  const messageId = field("Message ID:", { value: ctx.messageId ?? "" });
  const results = h("div", { "aria-live": "polite" });
  const search = async () => {
    ctx.sender = sender.input.value.trim();
    ctx.recipient = recipient.input.value.trim();
    ctx.messageId = messageId.input.value.trim();
    const p = { ResultSize: "200" };
    if (ctx.sender) p.Sender = ctx.sender;
    if (ctx.recipient) p.Recipients = [ctx.recipient];
    if (ctx.messageId) p.MessageId = ctx.messageId;
    results.replaceChildren(h("p", { role: "status" }, "Searching…"));
    try {
      const rows = await invoke("Get-MessageTrackingLog", p);
      results.replaceChildren(table("Message tracking results", rows, [["Timestamp"], ["EventId", "Event"], ["Sender"], ["Recipients"], ["ClientIp", "Client"], ["TlsProtocol", "TLS", (r) => [r.TlsProtocol, r.TlsCipher].filter(Boolean).join(" ")], ["CertificateSubject", "Certificate"], ["DomainSecure", "Domain Security", (r) => (isDomainSecured(r) ? h("span", { class: "badge" }, "Domain Secured") : show(r.DomainSecure ? `${r.DomainSecure}${r.DomainSecureReason ? `: ${r.DomainSecureReason}` : ""}` : ""))], ["MessageId", "Message ID"], ["Detail"]]));
    } catch (e) {
      results.replaceChildren(h("div", { class: "error", role: "alert" }, `${e.code}: ${e.message}`));
    }
  };
  const form = h("form", { class: "search", onsubmit: (e) => {
    e.preventDefault();
    search();
  } }, sender.row, recipient.row, messageId.row, h("button", { type: "submit" }, "Search"));
  search();
  return h("div", {}, form, results);
}

/** What Outlook showed as "Domain Secured": the tracking event's Domain Security verdict. */
function isDomainSecured(r) {
  return r.DomainSecure === "domain-secured";
}

export async function protocolLogs() {
  const rows = await invoke("Get-ProtocolLog", { ResultSize: "200" });
  return table("Protocol log lines", rows, columnsOf(rows));
}

export async function counters() {
  const rows = await invoke("Get-Counter");
  return table("Counters", rows, columnsOf(rows, rows.length ? Object.keys(rows[0]).slice(0, 6) : ["Path", "CookedValue"]));
}

export async function testMailflow(ctx) {
  const target = field("Target e-mail address:", { type: "email", value: ctx.target ?? "" });
  const run = actionButton("Test-Mailflow…", "Test-Mailflow", () => {
    ctx.target = target.input.value.trim();
    openCommandDialog({
      title: "Test mail flow",
      intro: "Sends a test message and reports each check's verdict. It can take a while.",
      cmdlet: "Test-Mailflow",
      params: { TargetEmailAddress: ctx.target, Detailed: true },
      onDone: (result) => table("Test-Mailflow results", result, columnsOf(result)),
    });
  });
  return h("div", {}, target.row, run);
}
