// Loading jazzer.js's native libFuzzer addon on older glibc.
//
// @jazzer.js/fuzzer ships prebuilt addons only (its npm package has no C++
// sources and no install script). The linux-x64 one is linked on a newer
// system: it asks for GLIBC_2.38 (only for __isoc23_strtol and
// __isoc23_strtoul, which GCC 13 headers emit for strtol/strtoul) and
// GLIBCXX_3.4.32 (only for std::ios_base_library_init, a symbol it names
// but never calls: it has no relocation). On Debian 12 (glibc 2.36,
// libstdc++ 3.4.30) dlopen refuses it with "version `GLIBC_2.38' not found".
//
// When that happens, a copy is made with exactly that undone, in
// node_modules/.cache/sealpost-fuzz/: the two imports name strtol and
// strtoul at GLIBC_2.2.5 (same behaviour except C23's "0b" prefix, which
// libFuzzer's flag parsing never sees), and the two version requirements
// are marked weak (VER_FLG_WEAK: not fatal when absent). The patch is
// refused unless every relocated symbol then has a version the system
// provides. The original file in node_modules is never changed; on a
// system where it loads, it is used as is.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";

const SHT_DYNSYM = 11;
const SHT_RELA = 4;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHT_GNU_VERNEED = 0x6ffffffe;
const VER_FLG_WEAK = 2;
/** Version requirements the prebuilt addon has that older systems lack, and that may be made weak. */
const WEAKEN = new Set(["GLIBC_2.38", "GLIBCXX_3.4.32"]);
/** Imports that are renamed to the symbol they stand for (C23 variants of strtol & co.). */
const C23_PREFIX = "__isoc23_";

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

function cstr(b: Buffer, off: number): string {
  return b.toString("latin1", off, b.indexOf(0, off));
}

/** The patched copy of the addon (a new Buffer); throws when the file is not what this patch expects. */
export function relaxAddon(original: Buffer): Buffer {
  const b = Buffer.from(original);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
      entsize: Number(b.readBigUInt64LE(o + 0x38)),
    });
  }
  const one = (type: number): Section => {
    const s = sections.filter((x) => x.type === type);
    if (s.length !== 1) throw new Error(`expected one section of type ${type.toString(16)}, found ${s.length}`);
    return s[0] as Section;
  };
  const dynsym = one(SHT_DYNSYM);
  const dynstr = sections[dynsym.link] as Section;
  const versym = one(SHT_GNU_VERSYM);
  const verneed = one(SHT_GNU_VERNEED);

  // Version needs: index -> { name, file, offset of its vernaux entry }.
  const versions = new Map<number, { name: string; file: string; aux: number }>();
  for (let o = verneed.offset; ; ) {
    const cnt = b.readUInt16LE(o + 2);
    const file = cstr(b, dynstr.offset + b.readUInt32LE(o + 4));
    let a = o + b.readUInt32LE(o + 8);
    for (let k = 0; k < cnt; k++) {
      versions.set(b.readUInt16LE(a + 6), { name: cstr(b, dynstr.offset + b.readUInt32LE(a + 8)), file, aux: a });
      a += b.readUInt32LE(a + 12);
    }
    const next = b.readUInt32LE(o + 12);
    if (next === 0) break;
    o += next;
  }
  const base = [...versions].find(([, v]) => v.file === "libc.so.6" && v.name === "GLIBC_2.2.5")?.[0];
  if (base === undefined) throw new Error("the addon needs no GLIBC_2.2.5 from libc.so.6");

  // Rename the C23 imports ("__isoc23_strtol" ends with "strtol": point into the same string).
  const count = dynsym.size / dynsym.entsize;
  for (let i = 0; i < count; i++) {
    const so = dynsym.offset + i * dynsym.entsize;
    const nameOff = b.readUInt32LE(so);
    const name = cstr(b, dynstr.offset + nameOff);
    const shndx = b.readUInt16LE(so + 6);
    if (!name.startsWith(C23_PREFIX) || shndx !== 0) continue;
    b.writeUInt32LE(nameOff + C23_PREFIX.length, so);
    b.writeUInt16LE(base, versym.offset + 2 * i);
  }
  const weakened = new Set<number>();
  for (const [index, v] of versions) {
    if (!WEAKEN.has(v.name)) continue;
    b.writeUInt16LE(b.readUInt16LE(v.aux + 4) | VER_FLG_WEAK, v.aux + 4);
    weakened.add(index);
  }
  // No relocation may still need a symbol of a weakened version.
  for (const rela of sections.filter((s) => s.type === SHT_RELA && s.link === sections.indexOf(dynsym))) {
    for (let o = rela.offset; o < rela.offset + rela.size; o += rela.entsize) {
      const sym = Number(b.readBigUInt64LE(o + 8) >> 32n);
      if (sym === 0) continue;
      const ver = b.readUInt16LE(versym.offset + 2 * sym) & 0x7fff;
      if (weakened.has(ver)) {
        const name = cstr(b, dynstr.offset + b.readUInt32LE(dynsym.offset + sym * dynsym.entsize));
        throw new Error(`the addon calls ${name}@${versions.get(ver)?.name}, which this system lacks`);
      }
    }
  }
  return b;
}

function prebuiltPath(): string {
  const require = createRequire(import.meta.url);
  const core = require.resolve("@jazzer.js/core");
  const fuzzer = createRequire(core).resolve("@jazzer.js/fuzzer");
  return path.join(path.dirname(fuzzer), "..", "prebuilds", `fuzzer-${process.platform}-${process.arch}.node`);
}

/** Which addon file was loaded, once jazzer.js loaded it. */
export let loadedAddon: string | undefined;

/**
 * Makes process.dlopen load the relaxed copy of jazzer's addon when the
 * original is refused for a missing symbol version. Call before jazzer.js
 * is loaded.
 */
export function installAddonLoader(cacheDir: string): void {
  const prebuilt = prebuiltPath();
  const original = process.dlopen;
  process.dlopen = function (module: { exports: unknown }, filename: string, ...rest: unknown[]) {
    if (path.resolve(filename) !== prebuilt) return (original as (...a: unknown[]) => void).call(process, module, filename, ...rest);
    try {
      (original as (...a: unknown[]) => void).call(process, module, filename, ...rest);
      loadedAddon = `${prebuilt} (as shipped)`;
      return;
    } catch (e) {
      if (!/version `(GLIBC|GLIBCXX)_[0-9.]+' not found/.test(String(e))) throw e;
      const bytes = fs.readFileSync(prebuilt);
      const out = path.join(cacheDir, `fuzzer-${process.platform}-${process.arch}-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.node`);
      if (!fs.existsSync(out)) {
        fs.mkdirSync(cacheDir, { recursive: true });
        const tmp = `${out}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, relaxAddon(bytes));
        fs.renameSync(tmp, out);
      }
      (original as (...a: unknown[]) => void).call(process, module, out, ...rest);
      loadedAddon = `${out} (the shipped addon, its GLIBC_2.38 / GLIBCXX_3.4.32 needs relaxed)`;
    }
  } as typeof process.dlopen;
}
