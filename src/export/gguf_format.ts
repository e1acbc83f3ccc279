/**
 * GGUF v3, the file llama.cpp loads (ggml/docs/gguf.md): magic, version, counts, typed key–value metadata, tensor
 * infos (dims innermost first), then tensor data, each tensor aligned to `general.alignment` (32). Encodes and
 * decodes the container only; which tensors and keys a model needs lives in gguf.ts.
 */

/** GGUF metadata value types (gguf_type). */
export const GGUF_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** Tensor element types this writer produces (ggml_type). */
export const GGML_TYPE = { F32: 0, F16: 1 } as const;
export type GgmlType = typeof GGML_TYPE[keyof typeof GGML_TYPE];

const GGML_TYPE_BYTES: Record<number, number> = { [GGML_TYPE.F32]: 4, [GGML_TYPE.F16]: 2 };

type ScalarType = Exclude<keyof typeof GGUF_TYPE, "ARRAY">;

/** One metadata value: a scalar, or an array of one scalar type. */
export type GgufValue =
  | { type: Exclude<ScalarType, "STRING" | "BOOL" | "UINT64" | "INT64">; value: number }
  | { type: "UINT64" | "INT64"; value: bigint }
  | { type: "BOOL"; value: boolean }
  | { type: "STRING"; value: string }
  | { type: "ARRAY"; itemType: "STRING"; value: string[] }
  | { type: "ARRAY"; itemType: "INT32" | "UINT32" | "FLOAT32"; value: number[] };

/** A tensor to write: `dims` innermost first (a (rows, cols) matrix is `[cols, rows]`), data little-endian. */
export interface GgufTensor {
  name: string;
  type: GgmlType;
  dims: number[];
  data: Uint8Array;
}

/** A decoded file. Tensor data are views into the bytes. */
export interface GgufFile {
  version: number;
  alignment: number;
  metadata: Map<string, GgufValue>;
  tensors: Map<string, GgufTensor>;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;

/** Growable little-endian byte sink. */
class Sink {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #room(n: number): void {
    if (this.length + n <= this.#buf.byteLength) return;
    let size = this.#buf.byteLength * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.#room(1);
    this.#view.setUint8(this.length++, v);
  }
  u32(v: number) {
    this.#room(4);
    this.#view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.#room(4);
    this.#view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.#room(4);
    this.#view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number | bigint) {
    this.#room(8);
    this.#view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array) {
    this.#room(b.byteLength);
    this.#buf.set(b, this.length);
    this.length += b.byteLength;
  }
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
  }
  pad(alignment: number) {
    while (this.length % alignment !== 0) this.u8(0);
  }
  done(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}

function writeScalar(out: Sink, type: ScalarType, v: number | bigint | boolean | string): void {
  switch (type) {
    case "UINT8":
    case "INT8":
      return out.u8(Number(v) & 0xff);
    case "UINT16":
    case "INT16":
      out.u8(Number(v) & 0xff);
      return out.u8((Number(v) >> 8) & 0xff);
    case "UINT32":
      return out.u32(Number(v));
    case "INT32":
      return out.i32(Number(v));
    case "FLOAT32":
      return out.f32(Number(v));
    case "BOOL":
      return out.u8(v ? 1 : 0);
    case "STRING":
      return out.string(String(v));
    case "UINT64":
    case "INT64":
      return out.u64(BigInt.asUintN(64, BigInt(v as bigint)));
    case "FLOAT64": {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, Number(v), true);
      return out.bytes(b);
    }
  }
}

function tensorBytes(t: { type: number; dims: number[] }): number {
  return t.dims.reduce((a, b) => a * b, 1) * GGML_TYPE_BYTES[t.type];
}

/**
 * The header (magic through the padding before the data) and, per tensor, its offset in the data section. Checks
 * names, dims and data sizes so a file llama.cpp would refuse is never written.
 */
export function encodeGgufHeader(
  metadata: [string, GgufValue][],
  tensors: GgufTensor[],
  alignment = DEFAULT_ALIGNMENT,
): { header: Uint8Array; offsets: number[]; dataBytes: number } {
  const out = new Sink();
  out.u32(MAGIC);
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.length);
  const keys = new Set<string>();
  for (const [key, value] of metadata) {
    if (keys.has(key)) throw new Error(`Cannot encode GGUF: metadata key '${key}' appears twice`);
    keys.add(key);
    out.string(key);
    out.u32(GGUF_TYPE[value.type]);
    if (value.type === "ARRAY") {
      out.u32(GGUF_TYPE[value.itemType]);
      out.u64(value.value.length);
      for (const item of value.value) writeScalar(out, value.itemType, item);
    } else writeScalar(out, value.type, value.value);
  }
  const names = new Set<string>();
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const what = `Cannot encode GGUF: tensor '${t.name}'`;
    if (names.has(t.name)) throw new Error(`${what} appears twice`);
    names.add(t.name);
    if (new TextEncoder().encode(t.name).byteLength >= 64) {
      throw new Error(`${what} has a name of 64 bytes or more`);
    }
    if (!(t.type in GGML_TYPE_BYTES)) throw new Error(`${what} has unsupported ggml type ${t.type}`);
    if (t.dims.length < 1 || t.dims.length > 4 || !t.dims.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new Error(`${what} has dims [${t.dims}], expected 1 to 4 positive integers`);
    }
    if (t.data.byteLength !== tensorBytes(t)) {
      throw new Error(`${what} has ${t.data.byteLength} bytes, dims [${t.dims}] need ${tensorBytes(t)}`);
    }
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type);
    out.u64(offset);
    offsets.push(offset);
    offset = Math.ceil((offset + t.data.byteLength) / alignment) * alignment;
  }
  out.pad(alignment);
  return { header: out.done(), offsets, dataBytes: offset };
}

/** A whole GGUF file in memory. */
export function encodeGguf(metadata: [string, GgufValue][], tensors: GgufTensor[]): Uint8Array {
  const alignment = alignmentOf(metadata);
  const { header, offsets, dataBytes } = encodeGgufHeader(metadata, tensors, alignment);
  const out = new Uint8Array(header.byteLength + dataBytes);
  out.set(header);
  tensors.forEach((t, i) => out.set(t.data, header.byteLength + offsets[i]));
  return out;
}

function alignmentOf(metadata: [string, GgufValue][]): number {
  const a = metadata.find(([k]) => k === "general.alignment")?.[1];
  return a && a.type === "UINT32" ? a.value : DEFAULT_ALIGNMENT;
}

/** Writes a GGUF file atomically (temp file beside `path`, then rename), streaming tensors without a full copy. */
export async function writeGguf(
  path: string,
  metadata: [string, GgufValue][],
  tensors: GgufTensor[],
): Promise<void> {
  const alignment = alignmentOf(metadata);
  const { header, offsets } = encodeGgufHeader(metadata, tensors, alignment);
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      let at = 0;
      const put = async (b: Uint8Array) => {
        for (let done = 0; done < b.byteLength;) done += await file.write(b.subarray(done));
        at += b.byteLength;
      };
      await put(header);
      for (let i = 0; i < tensors.length; i++) {
        const pad = header.byteLength + offsets[i] - at;
        if (pad > 0) await put(new Uint8Array(pad));
        await put(tensors[i].data);
      }
      const end = Math.ceil(at / alignment) * alignment;
      if (end > at) await put(new Uint8Array(end - at));
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(`Cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Decodes a GGUF v2/v3 file (the F32/F16 tensors this program writes; other types are refused). */
export function decodeGguf(bytes: Uint8Array, source = "GGUF data"): GgufFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`Cannot read ${source}: ${what}`);
  };
  const need = (n: number) => {
    if (at + n > bytes.byteLength) fail(`it ends at byte ${bytes.byteLength}, inside a field at ${at}`);
  };
  const u32 = () => (need(4), at += 4, view.getUint32(at - 4, true));
  const u64 = () => {
    need(8);
    at += 8;
    const v = view.getBigUint64(at - 8, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a count of ${v} at ${at - 8} is too large`);
    return Number(v);
  };
  const str = () => {
    const n = u64();
    need(n);
    at += n;
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(at - n, at));
  };
  const typeName = (code: number) => {
    const name = Object.entries(GGUF_TYPE).find(([, c]) => c === code)?.[0];
    return name ?? fail(`unknown value type ${code} at ${at - 4}`);
  };
  const scalar = (type: string): number | bigint | boolean | string => {
    switch (type) {
      case "UINT8":
        return (need(1), bytes[at++]);
      case "INT8":
        return (need(1), view.getInt8(at++));
      case "UINT16":
        return (need(2), at += 2, view.getUint16(at - 2, true));
      case "INT16":
        return (need(2), at += 2, view.getInt16(at - 2, true));
      case "UINT32":
        return u32();
      case "INT32":
        return (need(4), at += 4, view.getInt32(at - 4, true));
      case "FLOAT32":
        return (need(4), at += 4, view.getFloat32(at - 4, true));
      case "BOOL":
        return (need(1), bytes[at++] !== 0);
      case "STRING":
        return str();
      case "UINT64":
        return (need(8), at += 8, view.getBigUint64(at - 8, true));
      case "INT64":
        return (need(8), at += 8, view.getBigInt64(at - 8, true));
      case "FLOAT64":
        return (need(8), at += 8, view.getFloat64(at - 8, true));
    }
    return fail(`unexpected type ${type}`);
  };
  if (u32() !== MAGIC) fail("it does not start with the GGUF magic");
  const version = u32();
  if (version !== 2 && version !== 3) fail(`version ${version} is not 2 or 3`);
  const tensorCount = u64();
  const kvCount = u64();
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = typeName(u32());
    if (type === "ARRAY") {
      const itemType = typeName(u32());
      const n = u64();
      const value = Array.from({ length: n }, () => scalar(itemType));
      metadata.set(key, { type: "ARRAY", itemType, value } as GgufValue);
    } else metadata.set(key, { type, value: scalar(type) } as GgufValue);
  }
  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = str();
    const n = u32();
    const dims = Array.from({ length: n }, () => u64());
    const type = u32();
    if (!(type in GGML_TYPE_BYTES)) fail(`tensor '${name}' has ggml type ${type}, not F32 or F16`);
    infos.push({ name, dims, type, offset: u64() });
  }
  const a = metadata.get("general.alignment");
  const alignment = a?.type === "UINT32" ? a.value : DEFAULT_ALIGNMENT;
  const dataStart = Math.ceil(at / alignment) * alignment;
  const tensors = new Map<string, GgufTensor>();
  for (const t of infos) {
    const begin = dataStart + t.offset;
    const end = begin + tensorBytes(t);
    if (t.offset % alignment !== 0) {
      fail(`tensor '${t.name}' at offset ${t.offset} is not aligned to ${alignment}`);
    }
    if (end > bytes.byteLength) fail(`tensor '${t.name}' ends at ${end}, past the end of the file`);
    tensors.set(t.name, {
      name: t.name,
      type: t.type as GgmlType,
      dims: t.dims,
      data: bytes.subarray(begin, end),
    });
  }
  return { version, alignment, metadata, tensors };
}
