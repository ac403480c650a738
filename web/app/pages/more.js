// The other pages: Queue Viewer, Partners, Accepted domains, Trusted roots
// and intermediates, Message tracking, Protocol logs, Counters, Test mail
// flow. Each reads through a Get-/Test- cmdlet; changes go through the
// command dialog like every other page.
import { invoke } from "../api.js";
import { h, field, table, show } from "../dom.js";
import { openCommandDialog, actionButton } from "../dialog.js";

const columnsOf = (rows, prefer = []) => {
  const keys = prefer.length ? prefer : Object.keys(rows[0] ?? {}).slice(0, 8);
  return keys.map((k) => [k]);
};

export async function queueViewer(ctx) {
  const queues = await invoke("Get-Queue");
  const filter = field("Filter by status, next hop or last error:", { value: ctx.filter ?? "", type: "search" });
  const host = h("div", {});
  let picked;
  const actions = h("div", { class: "toolbar", role: "group", "aria-label": "Queue actions" });
  const draw = () => {
    const f = (filter.input.value ?? "").toLowerCase();
    ctx.filter = filter.input.value;
    const rows = queues.filter((q) => !f || [q.Status, q.NextHopDomain, q.LastError, q.Identity].some((v) => show(v).toLowerCase().includes(f)));
    host.replaceChildren(table("Queues", rows, [["Identity"], ["DeliveryType", "Delivery type"], ["Status"], ["MessageCount", "Messages"], ["NextHopDomain", "Next hop"], ["LastError", "Last error"], ["NextRetryTime", "Next retry"]], (q) => {
      picked = q;
      drawActions();
    }, picked?.Identity, (q) => q.Identity));
  };
  const drawActions = () => {
    const none = picked ? undefined : "Select a queue first.";
    const id = picked?.Identity;
    actions.replaceChildren(
      actionButton("Retry Queue", "Retry-Queue", () => openCommandDialog({ title: "Retry Queue", cmdlet: "Retry-Queue", params: { Identity: id }, onClose: ctx.rerender }), { reason: none }),
      actionButton("Suspend Queue", "Suspend-Queue", () => openCommandDialog({ title: "Suspend Queue", cmdlet: "Suspend-Queue", params: { Identity: id }, onClose: ctx.rerender }), { reason: none }),
      actionButton("Resume Queue", "Resume-Queue", () => openCommandDialog({ title: "Resume Queue", cmdlet: "Resume-Queue", params: { Identity: id }, onClose: ctx.rerender }), { reason: none }),
    );
  };
  filter.input.addEventListener("input", draw);
  draw();
  drawActions();
  return h("div", {}, filter.row, actions, host);
}

export async function partners() {
  const rows = await invoke("Get-DomainSecurePartner");
  return table("Domain Secure partners", rows, columnsOf(rows, rows.length ? Object.keys(rows[0]).slice(0, 8) : ["Identity", "Mode", "NameMatch", "RevocationMode"]));
}

export async function acceptedDomains() {
  const rows = await invoke("Get-AcceptedDomain");
  return table("Accepted domains", rows, [["Name"], ["DomainName", "Accepted domain"], ["DomainType", "Domain type"], ["Default"]]);
}

export async function trustedRoots() {
  const [roots, intermediates] = await Promise.all([invoke("Get-TrustedRootCertificate"), invoke("Get-IntermediateCertificate")]);
  const cols = [["Subject"], ["Issuer"], ["NotAfter", "Expires"], ["Thumbprint"]];
  return h("div", {}, table("Trusted root certificates", roots, cols), table("Intermediate certificates", intermediates, cols));
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
      results.replaceChildren(table("Message tracking results", rows, [["Timestamp"], ["EventId", "Event"], ["Sender"], ["Recipients"], ["MessageSubject", "Subject"], ["DomainSecured", "Domain Secured", (r) => (isDomainSecured(r) ? h("span", { class: "badge" }, "Domain Secured") : "")], ["MessageId", "Message ID"]]));
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

function isDomainSecured(r) {
  return r.DomainSecured === true || /domain.?secure/i.test(show(r.SourceContext ?? "")) || /domain.?secured/i.test(show(r.EventData ?? ""));
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
