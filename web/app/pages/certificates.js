// Edge Transport (this server) > Certificates: the inventory and its
// wizards: New Exchange Certificate (a request to download), Complete
// Pending Request (upload the issued certificate or chain), Import Exchange
// Certificate (a PFX and its password), Enable for SMTP, Export, Remove.
import { invoke } from "../api.js";
import { h, field, checkbox, table, show, fileToBase64, downloadLink, uid } from "../dom.js";
import { openCommandDialog, actionButton } from "../dialog.js";

function daysLeft(c) {
  if (!c.NotAfter) return "";
  const d = Math.floor((Date.parse(c.NotAfter) - Date.now()) / 86_400_000);
  return `${c.NotAfter.slice(0, 10)} (${d < 0 ? "expired" : `${d} days left`})`;
}

function statusText(c) {
  const reason = c.StatusReason ?? c.Reason;
  return reason ? `${c.Status}: ${reason}` : show(c.Status);
}

/** A file input whose content is read as base64 when chosen. */
function fileField(label, accept) {
  const id = uid("file");
  const input = h("input", { type: "file", id, accept });
  const holder = { name: undefined, data: undefined, input };
  input.addEventListener("change", async () => {
    const f = input.files?.[0];
    holder.name = f?.name;
    holder.data = f ? await fileToBase64(f) : undefined;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  holder.row = h("div", { class: "field" }, h("label", { for: id }, label), input);
  return holder;
}

function newRequest(ctx) {
  const friendly = field("Friendly name:", { value: "" });
  const subject = field("Subject (X.500 name, for example DC=com,DC=Contoso,CN=mail1.contoso.com):", { value: "" });
  const domains = field("Domain names (comma-separated; the first is the subject's name if none is given):", { value: "" });
  const algorithm = field("Key type:", { tag: "select", options: ["RSA", "ECDSA"], value: "RSA" });
  const size = field("Key size:", { tag: "select", options: ["2048", "3072", "4096", "P-256"], value: "2048" });
  const collect = () => {
    const params = { GenerateRequest: true };
    if (friendly.input.value.trim()) params.FriendlyName = friendly.input.value.trim();
    if (subject.input.value.trim()) params.SubjectName = subject.input.value.trim();
    const d = domains.input.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (d.length) params.DomainName = d;
    if (algorithm.input.value !== "RSA") params.KeyAlgorithm = algorithm.input.value;
    if (size.input.value !== "2048") params.KeySize = size.input.value;
    if (!params.SubjectName && !params.DomainName) throw new Error("Give a subject or at least one domain name.");
    return { params, files: {} };
  };
  openCommandDialog({
    title: "New Exchange Certificate",
    intro: "Creates a key pair on this server and a certificate request (PKCS#10) to send to your certification authority. The key never leaves the server.",
    cmdlet: "New-ExchangeCertificate",
    params: { GenerateRequest: true },
    resultFile: "certificate-request.req",
    body: h("div", {}, friendly.row, subject.row, domains.row, algorithm.row, size.row),
    collect,
    runLabel: "New",
    onDone: (result) => {
      const r = result[0] ?? {};
      ctx.picked = r.Thumbprint;
      return h("div", {}, h("p", {}, `The request is pending (thumbprint ${r.Thumbprint}). Send it to your certification authority, then use Complete Pending Request with the issued certificate.`), r.FileData ? downloadLink(r.FileData, "certificate-request.req", "Download the certificate request", "application/pkcs10") : null);
    },
    onClose: ctx.rerender,
  });
}

function completeRequest(ctx, c) {
  const file = fileField("Issued certificate or chain (PEM, DER or PKCS#7):", ".cer,.crt,.pem,.p7b,.p7c,.der");
  const friendly = field("Friendly name (optional):", { value: c?.FriendlyName ?? "" });
  openCommandDialog({
    title: "Complete Pending Request",
    intro: c ? `Completes the pending request ${c.Thumbprint} (${c.Subject}) with the certificate your certification authority issued.` : "Completes a pending request with the certificate your certification authority issued.",
    cmdlet: "Import-ExchangeCertificate",
    params: {},
    body: h("div", {}, file.row, friendly.row),
    collect: () => {
      if (!file.data) throw new Error("Choose the issued certificate's file.");
      const params = { FileData: file.data };
      if (friendly.input.value.trim() && friendly.input.value.trim() !== (c?.FriendlyName ?? "")) params.FriendlyName = friendly.input.value.trim();
      return { params, files: { FileData: file.name } };
    },
    runLabel: "Complete",
    onClose: ctx.rerender,
  });
}

function importPfx(ctx) {
  const file = fileField("PFX file (PKCS#12):", ".pfx,.p12");
  const password = field("Password:", { type: "password", autocomplete: "off" });
  const exportable = checkbox("Mark the private key as exportable", false);
  openCommandDialog({
    title: "Import Exchange Certificate",
    intro: "Imports a certificate and its private key from a PFX file.",
    cmdlet: "Import-ExchangeCertificate",
    params: {},
    body: h("div", {}, file.row, password.row, exportable.row),
    collect: () => {
      if (!file.data) throw new Error("Choose the PFX file.");
      const params = { FileData: file.data };
      if (password.input.value) params.Password = password.input.value;
      if (exportable.input.checked) params.PrivateKeyExportable = true;
      return { params, files: { FileData: file.name } };
    },
    runLabel: "Import",
    onClose: ctx.rerender,
  });
}

function enableSmtp(ctx, c) {
  openCommandDialog({
    title: "Enable Exchange Certificate",
    intro: `Enables ${c.Thumbprint} (${c.Subject}) for SMTP: the receive connectors offer it in STARTTLS and the send connectors present it to partners.`,
    cmdlet: "Enable-ExchangeCertificate",
    params: { Thumbprint: c.Thumbprint, Services: ["SMTP"] },
    runLabel: "Enable",
    onClose: ctx.rerender,
  });
}

function exportCert(ctx, c) {
  const withKey = checkbox("Export the private key too (a PFX protected by a password)", false, { disabled: !c.PrivateKeyExportable });
  const password = field("Password for the PFX:", { type: "password", autocomplete: "new-password" });
  const name = () => `${c.Thumbprint}.${withKey.input.checked ? "pfx" : "cer"}`;
  openCommandDialog({
    title: "Export Exchange Certificate",
    intro: c.PrivateKeyExportable ? "Exports the certificate; with its private key as a PFX, or the public certificate alone to send to a partner." : "Exports the public certificate (to send to a partner). Its private key is not exportable.",
    cmdlet: "Export-ExchangeCertificate",
    params: { Thumbprint: c.Thumbprint },
    resultFile: `${c.Thumbprint}.cer`,
    body: h("div", {}, withKey.row, password.row),
    collect: () => {
      const params = { Thumbprint: c.Thumbprint };
      if (withKey.input.checked) {
        if (!password.input.value) throw new Error("A PFX needs a password.");
        params.Password = password.input.value;
      }
      return { params, files: {} };
    },
    runLabel: "Export",
    onDone: (result) => {
      const r = result[0] ?? {};
      return r.FileData ? downloadLink(r.FileData, name(), `Download ${name()}`) : h("p", {}, "The server returned no file.");
    },
    onClose: ctx.rerender,
  });
}

function removeCert(ctx, c) {
  const smtp = /SMTP/i.test(String(c.Services ?? ""));
  openCommandDialog({
    title: "Remove Exchange Certificate",
    intro: `Removes ${c.Thumbprint} (${c.Subject}) and its private key from this server.${smtp ? " It is enabled for SMTP: STARTTLS and Domain Security with partners stop working until another certificate is enabled." : ""}`,
    cmdlet: "Remove-ExchangeCertificate",
    params: { Thumbprint: c.Thumbprint },
    runLabel: "Remove",
    onClose: ctx.rerender,
  });
}

export async function certificates(ctx) {
  const rows = await invoke("Get-ExchangeCertificate");
  let picked = rows.find((r) => r.Thumbprint === ctx.picked) ?? rows[0];
  const host = h("div", {});
  const actions = h("div", { class: "toolbar", role: "group", "aria-label": "Certificate actions" });
  const drawActions = () => {
    const pending = picked?.Status === "PendingRequest";
    const none = picked ? undefined : "Select a certificate first.";
    const pendings = rows.filter((r) => r.Status === "PendingRequest");
    // Complete: the selected request, or the only one there is.
    const toComplete = pending ? picked : pendings.length === 1 ? pendings[0] : undefined;
    actions.replaceChildren(
      actionButton("New Exchange Certificate…", "New-ExchangeCertificate", () => newRequest(ctx)),
      actionButton("Complete Pending Request…", "Import-ExchangeCertificate", () => completeRequest(ctx, toComplete), { reason: toComplete ? undefined : pendings.length ? "Select the pending request to complete." : "There is no pending request; create one with New Exchange Certificate." }),
      actionButton("Import Exchange Certificate…", "Import-ExchangeCertificate", () => importPfx(ctx)),
      actionButton("Enable for SMTP…", "Enable-ExchangeCertificate", () => enableSmtp(ctx, picked), { reason: none ?? (pending ? "A pending request cannot be enabled; complete it first." : undefined) }),
      actionButton("Export…", "Export-ExchangeCertificate", () => exportCert(ctx, picked), { reason: none ?? (pending ? "A pending request has no certificate to export." : undefined) }),
      actionButton("Remove…", "Remove-ExchangeCertificate", () => removeCert(ctx, picked), { reason: none, class: "danger" }),
    );
  };
  const mk = () => table("Exchange certificates", rows, [["FriendlyName", "Friendly name"], ["Subject"], ["CertificateDomains", "Domains"], ["Issuer"], ["NotBefore", "Not before", (c) => show(c.NotBefore)?.slice(0, 10)], ["NotAfter", "Expires", daysLeft], ["Services"], ["Status", "Status", statusText], ["Thumbprint"]], (r) => {
    picked = r;
    ctx.picked = r.Thumbprint;
    host.replaceChildren(mk());
    drawActions();
  }, picked?.Thumbprint, (r) => r.Thumbprint);
  host.replaceChildren(mk());
  drawActions();
  return h("div", {}, actions, host);
}
