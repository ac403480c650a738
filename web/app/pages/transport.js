// Organization Configuration > Hub Transport > Transport settings: the two
// Domain Secure lists (add and remove, validated as you type), the refusal
// mode and the authserv-id (Set-TransportConfig).
import { invoke } from "../api.js";
import { h, field, uid } from "../dom.js";
import { openCommandDialog, actionButton, denied } from "../dialog.js";

/** The shape of a domain name (the server checks again and has the last word). */
export function domainProblem(text) {
  const t = text.trim();
  if (t === "") return "Type a domain name, for example woodgrovebank.com.";
  if (/[\s/@:]/.test(t)) return `'${t}' is not a domain name: give only the host name, without spaces, addresses or URLs.`;
  if (t.length > 253 || !/^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\.?$/.test(t)) return `'${t}' is not a valid domain name (labels of letters, digits and hyphens, separated by dots).`;
  return undefined;
}

function domainList(ctx, key, label, description, values) {
  const headingId = uid("h");
  const cmdlet = "Set-TransportConfig";
  const reason = denied(cmdlet);
  const items = values.length
    ? h("ul", { class: "values", "aria-labelledby": headingId }, ...values.map((d) => h("li", {}, h("span", {}, d), actionButton(`Remove ${d}`, cmdlet, () => openCommandDialog({
      title: `Remove ${d} from ${key}`,
      intro: `${d} will no longer be in the ${label}.`,
      cmdlet,
      params: { [key]: { Remove: [d] } },
      onClose: ctx.rerender,
    }), { class: "secondary" }))))
    : h("p", { class: "empty" }, "The list is empty.");
  const { row, input } = field(`Domain to add to the ${label}:`, { name: key, autocomplete: "off", disabled: !!reason });
  const problem = h("p", { class: "invalid", "aria-live": "polite", id: uid("p") });
  input.setAttribute("aria-describedby", problem.id);
  const add = h("button", { type: "button", disabled: true, onclick: () => openCommandDialog({
    title: `Add ${input.value.trim()} to ${key}`,
    intro: `${input.value.trim()} will be added to the ${label}.`,
    cmdlet,
    params: { [key]: { Add: [input.value.trim()] } },
    onClose: ctx.rerender,
  }) }, "Add");
  input.addEventListener("input", () => {
    const p = input.value === "" ? undefined : domainProblem(input.value);
    problem.textContent = p ?? "";
    input.setAttribute("aria-invalid", p ? "true" : "false");
    add.disabled = !!reason || input.value.trim() === "" || !!p;
  });
  return h("section", { class: "card" }, h("h2", { id: headingId }, key), h("p", {}, description), items, row, problem, reason ? h("p", { class: "reason" }, reason) : add);
}

export async function transportSettings(ctx) {
  const [cfg] = await invoke("Get-TransportConfig");
  const cmdlet = "Set-TransportConfig";
  const refusal = field("DomainSecureRefusal (what a failed Domain Security check answers):", { tag: "select", options: ["Temporary", "Permanent"], value: cfg.DomainSecureRefusal, disabled: !!denied(cmdlet) });
  const authserv = field("AuthservId (the authserv-id of Authentication-Results):", { value: cfg.AuthservId ?? "", disabled: !!denied(cmdlet) });
  const save = actionButton("Save", cmdlet, () => {
    const params = {};
    if (refusal.input.value !== cfg.DomainSecureRefusal) params.DomainSecureRefusal = refusal.input.value;
    if (authserv.input.value.trim() !== (cfg.AuthservId ?? "")) params.AuthservId = authserv.input.value.trim();
    openCommandDialog({ title: "Save transport settings", intro: Object.keys(params).length ? "These settings will change." : "Nothing has changed; running the command sets the same values.", cmdlet, params, onClose: ctx.rerender });
  });
  return h(
    "div",
    {},
    domainList(ctx, "TLSSendDomainSecureList", "domains this organization sends domain-secured mail to", "Mail to these domains is sent only over mutually authenticated TLS (the send connector must have Domain Security enabled).", cfg.TLSSendDomainSecureList ?? []),
    domainList(ctx, "TLSReceiveDomainSecureList", "domains this organization receives domain-secured mail from", "Mail from these domains is accepted only over mutually authenticated TLS (the receive connector must have Domain Security enabled).", cfg.TLSReceiveDomainSecureList ?? []),
    h("section", { class: "card" }, h("h2", {}, "Refusal and authentication results"), refusal.row, authserv.row, save),
  );
}
