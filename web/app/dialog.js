// The one dialog every change goes through: what it will do, the shell
// command it runs (shown, copyable), Run; the door's 409
// ConfirmationRequired becomes a question with the server's words; errors
// show the API's code and message; the completion page shows the command
// that ran, as the 2007 console's wizards did.
import { invoke } from "./api.js";
import { h, clear, uid } from "./dom.js";
import { formatCommand } from "./shell-command.js";
import { state } from "./state.js";

function commandBox(text) {
  const id = uid("cmd");
  const pre = h("pre", { class: "command", id, tabindex: "0", "aria-label": "Shell command" }, text);
  const status = h("span", { class: "copied", role: "status" });
  const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await navigator.clipboard.writeText(pre.textContent);
      status.textContent = "Copied.";
    } catch {
      const r = document.createRange();
      r.selectNodeContents(pre);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
      status.textContent = "Selected: press Ctrl+C to copy.";
    }
  } }, "Copy command");
  return { box: h("div", { class: "command-box" }, h("p", { class: "command-label" }, "Shell command:"), pre, h("div", { class: "command-actions" }, copy, status)), pre };
}

/**
 * Opens a modal dialog for one cmdlet call.
 * o: { title, intro (text or nodes), cmdlet, params, files, resultFile, body (extra form nodes, optional),
 *      collect() -> {params, files} (read the form at Run), onDone(result) -> nodes to show, runLabel }
 */
export function openCommandDialog(o) {
  const titleId = uid("dlg");
  const info = () => state.cmdlets.get(o.cmdlet);
  const errorBox = h("div", { class: "error", role: "alert" });
  const content = h("div", { class: "dialog-content" });
  const footer = h("div", { class: "dialog-buttons" });
  const dlg = h("dialog", { class: "dialog", "aria-labelledby": titleId }, h("h2", { id: titleId }, o.title), content, errorBox, footer);
  let current = { params: o.params ?? {}, files: o.files ?? {} };
  let extra = {};
  const text = () => formatCommand(o.cmdlet, current.params, info(), { files: current.files, extra, ...(o.resultFile ? { resultFile: o.resultFile } : {}) });
  const { box, pre } = commandBox(text());
  const refresh = () => {
    if (o.collect) {
      try {
        current = o.collect();
      } catch {
        /* the form is not complete yet */
      }
    }
    pre.textContent = text();
  };
  let closed = false;
  // Closing (Finish, Cancel, Escape) removes the dialog and redraws the page at once.
  const close = () => {
    if (closed) return;
    closed = true;
    if (dlg.open) dlg.close();
    dlg.remove();
    if (o.onClose) o.onClose();
  };
  const run = async () => {
    errorBox.textContent = "";
    if (o.collect) {
      try {
        current = await o.collect();
      } catch (e) {
        errorBox.textContent = e.message;
        return;
      }
    }
    pre.textContent = text();
    runButton.disabled = true;
    runButton.textContent = "Running…";
    dlg.setAttribute("aria-busy", "true");
    try {
      const result = await invoke(o.cmdlet, current.params, extra);
      pre.textContent = text();
      clear(content);
      clear(footer);
      content.append(h("p", { class: "done", role: "status" }, "Completed. The following shell command ran:"), box);
      const more = o.onDone ? await o.onDone(result) : null;
      if (more) content.append(more);
      const finish = h("button", { type: "button", onclick: close }, "Finish");
      footer.append(finish);
      finish.focus();
    } catch (e) {
      if (e.code === "ConfirmationRequired") {
        // Yes: again with the shell's -Confirm:$false; a second refusal (a change that turns Domain Security off) asks for -Force.
        extra = extra.Confirm === false ? { ...extra, Force: true } : { ...extra, Confirm: false };
        pre.textContent = text();
        clear(errorBox);
        errorBox.append(h("p", {}, "Confirm: ", e.message), h("p", {}, "Do you want to continue?"));
        runButton.textContent = "Yes";
        cancelButton.textContent = "No";
        runButton.disabled = false;
        runButton.focus();
        return;
      }
      errorBox.textContent = `${e.code}: ${e.message}`;
      runButton.textContent = o.runLabel ?? "Run";
      runButton.disabled = false;
    } finally {
      dlg.removeAttribute("aria-busy");
    }
  };
  // What if: the door's WhatIf answer (nothing changes), under the command with -WhatIf.
  const whatIfBox = h("div", { class: "whatif", "aria-live": "polite" });
  const whatIf = async () => {
    errorBox.textContent = "";
    if (o.collect) {
      try {
        current = o.collect();
      } catch (e) {
        errorBox.textContent = e.message;
        return;
      }
    }
    pre.textContent = text();
    const asked = formatCommand(o.cmdlet, current.params, info(), { files: current.files, extra: { ...extra, WhatIf: true }, ...(o.resultFile ? { resultFile: o.resultFile } : {}) });
    try {
      const r = await invoke(o.cmdlet, current.params, { ...extra, WhatIf: true });
      whatIfBox.replaceChildren(h("p", {}, h("code", {}, asked)), h("p", {}, r.map((x) => x.Message).filter(Boolean).join(" ") || "What if: nothing would be reported."));
    } catch (e) {
      errorBox.textContent = `${e.code}: ${e.message}`;
    }
  };
  const runButton = h("button", { type: "button", onclick: run }, o.runLabel ?? "Run");
  const whatIfButton = h("button", { type: "button", class: "secondary", onclick: whatIf }, "What if");
  const cancelButton = h("button", { type: "button", class: "secondary", onclick: close }, "Cancel");
  if (o.intro) content.append(h("div", { class: "intro" }, o.intro));
  if (o.body) {
    content.append(o.body);
    o.body.addEventListener("input", refresh);
    o.body.addEventListener("change", refresh);
  }
  content.append(box, whatIfBox);
  if (state.cmdlets.get(o.cmdlet)?.ChangesState) footer.append(whatIfButton);
  footer.append(runButton, cancelButton);
  dlg.addEventListener("close", close);
  document.body.append(dlg);
  dlg.showModal();
  refresh();
  return dlg;
}

/** A disabled control's reason, or undefined when the caller's roles allow the cmdlet. */
export function denied(cmdlet) {
  if (state.cmdlets.has(cmdlet)) return undefined;
  const needs = state.needs[cmdlet];
  return `Your role groups (${state.session.RoleGroups.join(", ") || "none"}) cannot run ${cmdlet}${needs ? `; it needs ${needs}` : ""}.`;
}

/** A button that opens a dialog, disabled with the reason when the role does not allow the cmdlet. */
export function actionButton(label, cmdlet, onclick, opts = {}) {
  const reason = denied(cmdlet) ?? opts.reason;
  const rid = reason ? uid("why") : undefined;
  const b = h("button", { type: "button", onclick, disabled: !!reason, "aria-describedby": rid, class: opts.class }, label);
  return reason ? h("span", { class: "action" }, b, h("span", { class: "reason", id: rid }, reason)) : b;
}
