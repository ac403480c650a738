// Shared by the connector pages: a properties form whose Save runs one
// Set- cmdlet with only the values that changed.
import { h, table } from "../dom.js";
import { openCommandDialog, actionButton } from "../dialog.js";

export const lines = (text) => text.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean);
export const sameList = (a, b) => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

/** fields: [{ key, read: () => value, original }]; returns the Save button. */
export function saveButton(ctx, cmdlet, identity, fields, title) {
  return actionButton("Save", cmdlet, () => {
    const collect = () => {
      const params = { Identity: identity };
      for (const f of fields) {
        const v = f.read();
        const same = Array.isArray(v) ? sameList(v, f.original) : v === f.original;
        if (!same) params[f.key] = v;
      }
      return { params, files: {} };
    };
    const { params } = collect();
    openCommandDialog({
      title,
      intro: Object.keys(params).length > 1 ? `${identity}: the changed properties will be saved.` : `${identity}: nothing has changed.`,
      cmdlet,
      params,
      onClose: ctx.rerender,
    });
  });
}

/** A list of connectors to pick from and the picked one's properties. */
export function listAndProperties(caption, rows, columns, keyOf, render, selectedKey) {
  let picked = rows.find((r) => keyOf(r) === selectedKey) ?? rows[0];
  const props = h("div", { class: "properties" });
  const host = h("div", {});
  const draw = () => {
    props.replaceChildren(picked ? render(picked) : h("p", { class: "empty" }, "There are no connectors."));
  };
  const mk = () => table(caption, rows, columns, (r) => {
    picked = r;
    host.replaceChildren(mk());
    draw();
  }, picked ? keyOf(picked) : undefined, keyOf);
  host.replaceChildren(mk());
  draw();
  return h("div", {}, host, props);
}
