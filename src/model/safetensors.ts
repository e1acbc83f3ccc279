/**
 * Safetensors, the public format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a
 * JSON header padded with spaces to 8 bytes, then row-major little-endian tensor data. Reading validates every
 * length, dtype, shape and offset against the file. Not a checkpoint layout: which tensors go in lives elsewhere.
 */

/** Element types this program reads and writes. */
export type Dtype = "F32" | "F16" | "BF16" | "I32" | "U32" | "I64" | "U16" | "U8";

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<Dtype, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  I64: 8,
  U16: 2,
  U8: 1,
};

/** A tensor to write: `data` holds the row-major little-endian elements (a typed array of matching size). */
export interface TensorInput {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: ArrayBufferView;
}

/** A tensor read back; `data` is a view into the decoded bytes (no copy). */
export interface TensorEntry {
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
}

/** A decoded file: tensors by name (in file order) and the `__metadata__` strings. */
export interface Safetensors {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** Headers above this size are refused (the reference implementation's limit), so a corrupt length fails fast. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(x: unknown): x is Dtype {
  return typeof x === "string" && Object.hasOwn(DTYPE_BYTES, x);
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function elements(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Validates `tensors` and lays them out: the padded header bytes and, per tensor in data order, its bytes. Data
 * order is by element size, largest first (stable), as the reference writer does, so every tensor stays aligned.
 */
function layout(tensors: TensorInput[], metadata?: Record<string, string>): {
  header: Uint8Array;
  chunks: Uint8Array[];
} {
  const seen = new Set<string>();
  for (const t of tensors) {
    const what = `Cannot encode safetensors: tensor '${t.name}'`;
    if (t.name === METADATA_KEY) throw new Error(`${what} uses the reserved name`);
    if (seen.has(t.name)) throw new Error(`${what} appears twice`);
    seen.add(t.name);
    if (!isDtype(t.dtype)) throw new Error(`${what} has unknown dtype '${t.dtype}'`);
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
      throw new Error(`${what} has shape ${JSON.stringify(t.shape)}, expected non-negative integers`);
    }
    const want = elements(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== want) {
      throw new Error(
        `${what} has ${t.data.byteLength} bytes of data, but shape [${t.shape}] of ${t.dtype} needs ${want}`,
      );
    }
    if (!LITTLE_ENDIAN && DTYPE_BYTES[t.dtype] > 1) {
      throw new Error(`${what} is multi-byte and this host is big-endian`);
    }
  }
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(`Cannot encode safetensors: metadata '${k}' is a ${typeof v}, expected a string`);
      }
    }
    header[METADATA_KEY] = metadata;
  }
  const ordered = tensors.map((t, i) => ({ t, i }))
    .sort((a, b) => DTYPE_BYTES[b.t.dtype] - DTYPE_BYTES[a.t.dtype] || a.i - b.i)
    .map((x) => x.t);
  let offset = 0;
  for (const t of ordered) {
    const end = offset + t.data.byteLength;
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { header: head, chunks: ordered.map((t) => bytesOf(t.data)) };
}

/** Encodes tensors (and optional string metadata) as one safetensors byte array. */
export function encodeSafetensors(tensors: TensorInput[], metadata?: Record<string, string>): Uint8Array {
  const { header, chunks } = layout(tensors, metadata);
  const out = new Uint8Array(header.byteLength + chunks.reduce((s, c) => s + c.byteLength, 0));
  out.set(header, 0);
  let at = header.byteLength;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Decodes and validates a safetensors file: header length against the size, UTF-8 JSON object, metadata of
 * strings, known dtypes, shape × dtype size equal to each byte range, ranges in bounds, non-overlapping and
 * covering the data region exactly. Tensor data are views into `bytes`. `source` names the file in errors.
 */
export function decodeSafetensors(bytes: Uint8Array, source = "safetensors data"): Safetensors {
  const fail = (what: string): never => {
    throw new Error(`Cannot read ${source}: ${what}`);
  };
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes is shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) {
    fail(`header length ${headerLength} exceeds the ${bytes.byteLength - 8} bytes after the length field`);
  }
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  if (n === 0 || bytes[8] !== 0x7b) fail("header does not start with '{'");
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail("header is not valid UTF-8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    fail("header is not a JSON object");
  }
  const data = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const ranges: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, TensorEntry>();
  for (const [name, info] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof info !== "object" || info === null || Array.isArray(info)) {
        fail("__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__ '${k}' is ${JSON.stringify(v)}, expected a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const bad = (what: string): never => fail(`tensor '${name}' ${what}`);
    if (typeof info !== "object" || info === null || Array.isArray(info)) bad("is not an object");
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (!isDtype(dtype)) bad(`has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      bad(`has shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      bad(`has data_offsets ${JSON.stringify(offsets)}, expected [begin, end] of non-negative integers`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) bad(`has data_offsets [${begin}, ${end}] with begin after end`);
    const count = elements(shape as number[]);
    const want = count * DTYPE_BYTES[dtype as Dtype];
    if (!Number.isSafeInteger(want) || want !== end - begin) {
      bad(
        `has shape [${shape}] of ${dtype} (${want} bytes) but data_offsets [${begin}, ${end}] span ${
          end - begin
        }`,
      );
    }
    if (end > data.byteLength) {
      bad(`has data_offsets [${begin}, ${end}] beyond the ${data.byteLength}-byte data region`);
    }
    ranges.push({ name, begin, end });
    tensors.set(name, { dtype: dtype as Dtype, shape: shape as number[], data: data.subarray(begin, end) });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous = "";
  for (const r of ranges) {
    if (r.begin < cursor) fail(`tensor '${r.name}' at [${r.begin}, ${r.end}) overlaps tensor '${previous}'`);
    if (r.begin > cursor) {
      fail(`${r.begin - cursor} unused bytes lie before tensor '${r.name}' at ${r.begin}`);
    }
    cursor = r.end;
    previous = r.name;
  }
  if (cursor !== data.byteLength) {
    fail(
      `${data.byteLength - cursor} bytes of the ${data.byteLength}-byte data region follow the last tensor` +
        (previous ? ` '${previous}'` : ""),
    );
  }
  const ordered = new Map<string, TensorEntry>();
  for (const r of ranges) ordered.set(r.name, tensors.get(r.name)!);
  return { tensors: ordered, metadata };
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await file.write(bytes.subarray(at));
}

/**
 * Writes a safetensors file atomically: the data goes to a temporary file beside `path`, is flushed to disk and
 * then renamed over `path`, so readers see the old file or the whole new one. Tensors are streamed, not copied.
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorInput[],
  metadata?: Record<string, string>,
): Promise<void> {
  const { header, chunks } = layout(tensors, metadata);
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      await writeAll(file, header);
      for (const c of chunks) await writeAll(file, c);
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(`Cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads and validates a safetensors file (see decodeSafetensors). */
export async function readSafetensors(path: string): Promise<Safetensors> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new Error(`Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return decodeSafetensors(bytes, path);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * The elements of an F32, F16 or BF16 tensor as f32. An aligned F32 tensor is returned as a view sharing memory
 * with `entry.data`; other dtypes are converted into a new array.
 */
export function toF32(entry: TensorEntry, name = "tensor"): Float32Array {
  const { dtype, data } = entry;
  const count = data.byteLength / DTYPE_BYTES[dtype];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (dtype) {
    case "F32": {
      if (LITTLE_ENDIAN && data.byteOffset % 4 === 0) {
        return new Float32Array(data.buffer, data.byteOffset, count);
      }
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case "BF16": {
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      throw new Error(`Cannot convert ${name} to f32: dtype ${dtype} is not a float type`);
  }
}

/** Rounds f32 values to BF16 or F16 bits (round to nearest even), little-endian, ready for `TensorInput.data`. */
export function fromF32(values: Float32Array, dtype: "F16" | "BF16"): Uint16Array {
  const out = new Uint16Array(values.length);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i];
    if (dtype === "BF16") {
      const isNaN = (b & 0x7fffffff) > 0x7f800000;
      out[i] = isNaN ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    } else {
      out[i] = floatToHalf(values[i], b);
    }
  }
  return out;
}

/** Rounds a non-negative number to an integer, ties to even. */
function roundEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

function floatToHalf(x: number, b: number): number {
  const sign = (b >>> 16) & 0x8000;
  if (Number.isNaN(x)) return 0x7e00;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // rounds past the largest half (65504): infinity
  if (a < 2 ** -14) return sign | roundEven(a * 2 ** 24); // subnormal (rounding up to 2^-14 gives its bits too)
  let exp = Math.floor(Math.log2(a));
  if (a / 2 ** exp >= 2) exp++;
  if (a / 2 ** exp < 1) exp--;
  const frac = roundEven((a / 2 ** exp) * 1024 - 1024); // exact: a has 24 significant bits
  return sign | (((exp + 15) << 10) + frac); // a carry of frac into the exponent is the correct rounding
}
