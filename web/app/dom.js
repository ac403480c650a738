// h(tag, attrs, ...children): a DOM element. Properties (checked, value,
// disabled, ...) are set as properties, on* as listeners, the rest as
// attributes; false, null and undefined leave an attribute out.
const PROPS = new Set(["checked", "value", "disabled", "hidden", "selected", "indeterminate"]);

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (PROPS.has(k)) el[k] = v;
    else if (v === false) continue;
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let seq = 0;
/** A unique id for label/for and aria-* links. */
export function uid(prefix = "c") {
  seq += 1;
  return `${prefix}-${seq}`;
}

/** A text value as Exchange shows it: lists comma-separated, nothing as an empty cell. */
export function show(v) {
  if (v === null || v === undefined || v === "") return "";
  if (Array.isArray(v)) return v.map(show).join(", ");
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A labelled input; returns { row, input }. */
export function field(label, attrs = {}, help) {
  const id = uid("f");
  const helpId = help ? uid("h") : undefined;
  const input = attrs.tag === "select" ? h("select", { id, ...attrs, tag: undefined }, ...(attrs.options ?? []).map((o) => h("option", { value: o, selected: o === attrs.value }, o))) : attrs.tag === "textarea" ? h("textarea", { id, rows: 3, ...attrs, tag: undefined }) : h("input", { id, type: "text", ...attrs, "aria-describedby": helpId });
  if (attrs.tag === "select") input.value = attrs.value ?? "";
  const row = h("div", { class: "field" }, h("label", { for: id }, label), input, help ? h("p", { class: "help", id: helpId }, help) : null);
  return { row, input };
}

/** A labelled checkbox; returns { row, input }. */
export function checkbox(label, checked, attrs = {}) {
  const id = uid("x");
  const input = h("input", { id, type: "checkbox", checked: !!checked, ...attrs });
  return { row: h("div", { class: "check" }, input, h("label", { for: id }, label)), input };
}

/** A table of objects: columns [name, label?, render?]; rows selectable when onSelect is given. */
export function table(caption, rows, columns, onSelect, selectedKey, keyOf) {
  const t = h("table", { class: "grid" }, h("caption", {}, caption), h("thead", {}, h("tr", {}, ...(onSelect ? [h("th", { scope: "col" }, h("span", { class: "sr" }, "Select"))] : []), ...columns.map((c) => h("th", { scope: "col" }, c[1] ?? c[0])))));
  const body = h("tbody");
  const group = uid("sel");
  if (!rows.length) body.append(h("tr", {}, h("td", { colspan: columns.length + (onSelect ? 1 : 0), class: "empty" }, "There are no items to show in this view.")));
  for (const r of rows) {
    const key = keyOf ? keyOf(r) : undefined;
    const cells = columns.map((c) => h("td", {}, c[2] ? c[2](r) : show(r[c[0]])));
    if (onSelect) {
      const label = `Select ${show(r[columns[0][0]]) || key}`;
      const radio = h("input", { type: "radio", name: group, "aria-label": label, checked: key !== undefined && key === selectedKey, onchange: () => onSelect(r) });
      cells.unshift(h("td", {}, radio));
    }
    body.append(h("tr", { class: key !== undefined && key === selectedKey ? "selected" : undefined }, ...cells));
  }
  t.append(body);
  return h("div", { class: "grid-wrap" }, t);
}

/** Tabs (WAI-ARIA pattern: arrow keys move between tabs). tabs: [[label, panelElement]]. */
export function tabs(label, list, selected = 0) {
  const tablist = h("div", { role: "tablist", "aria-label": label, class: "tabs" });
  const panels = [];
  const buttons = [];
  const select = (i, focus) => {
    buttons.forEach((b, j) => {
      b.setAttribute("aria-selected", String(i === j));
      b.tabIndex = i === j ? 0 : -1;
      panels[j].hidden = i !== j;
    });
    if (focus) buttons[i].focus();
  };
  list.forEach(([name, panel], i) => {
    const tid = uid("tab");
    const pid = uid("panel");
    const b = h("button", { type: "button", role: "tab", id: tid, "aria-controls": pid, onclick: () => select(i, false), onkeydown: (e) => {
      if (e.key === "ArrowRight") select((i + 1) % list.length, true);
      else if (e.key === "ArrowLeft") select((i - 1 + list.length) % list.length, true);
      else return;
      e.preventDefault();
    } }, name);
    buttons.push(b);
    panels.push(h("div", { role: "tabpanel", id: pid, "aria-labelledby": tid, class: "tabpanel" }, panel));
    tablist.append(b);
  });
  select(selected, false);
  return h("div", { class: "tabset" }, tablist, ...panels);
}

/** Base64 of a File's bytes. */
export async function fileToBase64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** A download link for base64 content. */
export function downloadLink(base64, fileName, text, type = "application/octet-stream") {
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const href = URL.createObjectURL(new Blob([bytes], { type }));
  return h("a", { href, download: fileName, class: "download" }, text);
}
