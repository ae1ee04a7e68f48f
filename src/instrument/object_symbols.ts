/**
 * Reads the names of the functions a relocatable wasm object file (clang -c) defines, from the
 * symbol table of its "linking" custom section (the tool-conventions Linking.md format), so the
 * C build can find a kernel's `run` — in C++ under its mangled name — without llvm-nm.
 */

const LINKING_SECTION = "linking";
const SYMBOL_TABLE = 8;
const Kind = { Function: 0, Data: 1, Global: 2, Section: 3, Tag: 4, Table: 5 } as const;
const Flag = { Local: 0x2, Undefined: 0x10, ExplicitName: 0x40 } as const;

class Reader {
  at: number;
  constructor(
    readonly bytes: Uint8Array,
    at = 0,
  ) {
    this.at = at;
  }
  u8(): number {
    if (this.at >= this.bytes.length) throw new RangeError("unexpected end of object file");
    return this.bytes[this.at++];
  }
  u32(): number {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const b = this.u8();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
    }
  }
  name(): string {
    const length = this.u32();
    const text = new TextDecoder().decode(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return text;
  }
}

/** Global (non-local) functions defined by the object; [] when it has no symbol table. */
export function definedFunctionSymbols(object: Uint8Array): string[] {
  const r = new Reader(object, 8); // after the magic number and version
  while (r.at < object.length) {
    const id = r.u8();
    const size = r.u32();
    const end = r.at + size;
    if (id === 0 && r.name() === LINKING_SECTION) return symbols(new Reader(object.subarray(0, end), r.at));
    r.at = end;
  }
  return [];
}

function symbols(r: Reader): string[] {
  r.u32(); // linking metadata version
  while (r.at < r.bytes.length) {
    const type = r.u8();
    const size = r.u32();
    if (type !== SYMBOL_TABLE) {
      r.at += size;
      continue;
    }
    const names: string[] = [];
    for (let count = r.u32(); count > 0; count--) {
      const kind = r.u8();
      const flags = r.u32();
      const defined = (flags & Flag.Undefined) === 0;
      if (kind === Kind.Data) {
        r.name();
        if (defined) (r.u32(), r.u32(), r.u32());
      } else if (kind === Kind.Section) {
        r.u32();
      } else {
        r.u32(); // index
        const named = defined || (flags & Flag.ExplicitName) !== 0;
        const name = named ? r.name() : undefined;
        if (kind === Kind.Function && defined && (flags & Flag.Local) === 0 && name !== undefined) names.push(name);
      }
    }
    return names;
  }
  return [];
}

const IMPORT_SECTION = 2;
const ImportKind = { Function: 0, Table: 1, Memory: 2, Global: 3, Tag: 4 } as const;

/** Names of the functions the object imports: the symbols it uses and leaves to the linker. */
export function importedFunctionNames(object: Uint8Array): string[] {
  const r = new Reader(object, 8);
  while (r.at < object.length) {
    const id = r.u8();
    const size = r.u32();
    const end = r.at + size;
    if (id === IMPORT_SECTION) return imports(new Reader(object.subarray(0, end), r.at));
    r.at = end;
  }
  return [];
}

function imports(r: Reader): string[] {
  const names: string[] = [];
  const limits = () => {
    const flags = r.u8();
    r.u32();
    if (flags & 1) r.u32();
  };
  for (let count = r.u32(); count > 0; count--) {
    r.name(); // module
    const name = r.name();
    const kind = r.u8();
    if (kind === ImportKind.Function) (r.u32(), names.push(name));
    else if (kind === ImportKind.Table) (r.u8(), limits());
    else if (kind === ImportKind.Memory) limits();
    else if (kind === ImportKind.Global) (r.u8(), r.u8());
    else if (kind === ImportKind.Tag) (r.u8(), r.u32());
    else throw new RangeError(`import of unknown kind ${kind} in object file`);
  }
  return names;
}
