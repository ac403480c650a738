// Format-List and Format-Table output, laid out as PowerShell does: a list
// is "Name : value" with names padded to one column; a table has a header,
// a dashed rule and one row per object.

export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (v instanceof Date) return v.toISOString().replace(/\.\d{3}Z$/, "Z");
  if (Array.isArray(v)) return `{${v.map(formatValue).join(", ")}}`;
  if (Buffer.isBuffer(v)) return `{${v.length} bytes}`;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "object") {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${formatValue(x)}`)
      .join("; ")}}`;
  }
  return String(v);
}

function pick(obj: unknown, props: string[] | undefined): Array<[string, unknown]> {
  if (obj === null || typeof obj !== "object") return [["", obj]];
  const entries = Object.entries(obj as Record<string, unknown>);
  if (!props || props.length === 0 || props.includes("*")) return entries;
  return props.map((p) => {
    const hit = entries.find(([k]) => k.toLowerCase() === p.toLowerCase());
    return hit ?? [p, undefined];
  });
}

export function formatList(objects: unknown[], props?: string[]): string {
  const blocks = objects.map((o) => {
    if (typeof o === "string") return o;
    const entries = pick(o, props);
    const width = Math.max(...entries.map(([k]) => k.length), 0);
    return entries.map(([k, v]) => `${k.padEnd(width)} : ${formatValue(v)}`).join("\n");
  });
  return blocks.length ? `\n${blocks.join("\n\n")}\n` : "";
}

export function formatTable(objects: unknown[], props: string[] | undefined): string {
  if (objects.length === 0) return "";
  if (objects.every((o) => typeof o === "string")) return objects.join("\n");
  const cols = props && props.length && !props.includes("*") ? props : pick(objects[0], undefined).map(([k]) => k);
  const rows = objects.map((o) => pick(o, cols).map(([, v]) => formatValue(v)));
  const names = cols.map((c) => {
    const first = objects[0];
    const hit = first && typeof first === "object" ? Object.keys(first).find((k) => k.toLowerCase() === c.toLowerCase()) : undefined;
    return hit ?? c;
  });
  const widths = names.map((n, i) => Math.max(n.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join(" ").trimEnd();
  return [line(names), line(names.map((n) => "-".repeat(n.length))), ...rows.map(line)].join("\n");
}
