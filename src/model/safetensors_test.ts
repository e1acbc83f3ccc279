import assert from "node:assert/strict";
import {
  decodeSafetensors,
  DTYPE_BYTES,
  encodeSafetensors,
  fromF32,
  readSafetensors,
  type TensorInput,
  toF32,
  writeSafetensors,
} from "./safetensors.ts";

/** A file from a raw header (object or text) and data bytes, with an optional wrong length field. */
function craft(header: unknown, data: number | Uint8Array = 0, lengthField?: bigint): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.byteLength + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(body, 8 + json.byteLength);
  return out;
}

const f32 = (shape: number[], begin: number) => ({
  dtype: "F32",
  shape,
  data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)],
});

Deno.test("encode writes the reference layout byte for byte", () => {
  const bytes = encodeSafetensors([{ name: "a", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]);
  const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 55 bytes, padded to 56
  const want = new Uint8Array(8 + 56 + 8);
  new DataView(want.buffer).setBigUint64(0, 56n, true);
  want.set(new TextEncoder().encode(json.padEnd(56, " ")), 8);
  want.set(new Uint8Array(new Float32Array([1, 2]).buffer), 64);
  assert.deepEqual(bytes, want);
});

Deno.test("encode → decode round-trips every dtype, metadata, scalars, empty tensors and odd names", () => {
  const tensors: TensorInput[] = [
    {
      name: "tok.weight",
      dtype: "F32",
      shape: [3, 5],
      data: Float32Array.from({ length: 15 }, (_, i) => i / 7),
    },
    { name: "half", dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) },
    { name: "brain", dtype: "BF16", shape: [1, 1], data: new Uint16Array([0x3f80]) },
    { name: "ids", dtype: "I32", shape: [2], data: new Int32Array([-1, 7]) },
    { name: "u", dtype: "U32", shape: [], data: new Uint32Array([4e9]) },
    { name: "big", dtype: "I64", shape: [2], data: new BigInt64Array([-5n, 2n ** 40n]) },
    { name: "w16", dtype: "U16", shape: [1], data: new Uint16Array([65535]) },
    { name: "bytes ü", dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
    { name: "empty", dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
  ];
  const metadata = { format: "pt", step: "12", "note ✓": "ünïcode" };
  const bytes = encodeSafetensors(tensors, metadata);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0, "data starts 8-byte aligned");
  const { tensors: got, metadata: meta } = decodeSafetensors(bytes);
  assert.deepEqual(meta, metadata);
  assert.equal(got.size, tensors.length);
  for (const t of tensors) {
    const e = got.get(t.name)!;
    assert.equal(e.dtype, t.dtype, t.name);
    assert.deepEqual(e.shape, t.shape, t.name);
    assert.deepEqual(e.data, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), t.name);
    assert.equal(e.data.byteOffset % DTYPE_BYTES[t.dtype], 0, `${t.name} is aligned`);
  }
  assert.equal(got.keys().next().value, "big", "8-byte dtypes come first in data order");
  assert.deepEqual([...toF32(got.get("tok.weight")!)], [...(tensors[0].data as Float32Array)]);
  assert.deepEqual([...toF32(got.get("half")!)], [1, -2, 65504]);
  assert.deepEqual([...toF32(got.get("brain")!)], [1]);
  assert.deepEqual(decodeSafetensors(encodeSafetensors([])).tensors.size, 0);
});

Deno.test("encode refuses inconsistent tensors", () => {
  const t = (over: Partial<TensorInput>): TensorInput[] => [
    { name: "x", dtype: "F32", shape: [2], data: new Float32Array(2), ...over },
  ];
  assert.throws(
    () => encodeSafetensors(t({ shape: [3] })),
    /tensor 'x' has 8 bytes of data, but shape \[3\]/,
  );
  assert.throws(() => encodeSafetensors(t({ shape: [-2] })), /tensor 'x' has shape \[-2\]/);
  assert.throws(() => encodeSafetensors(t({ dtype: "F64" as "F32" })), /tensor 'x' has unknown dtype 'F64'/);
  assert.throws(() => encodeSafetensors(t({ name: "__metadata__" })), /reserved name/);
  assert.throws(() => encodeSafetensors([...t({}), ...t({})]), /tensor 'x' appears twice/);
  assert.throws(
    () => encodeSafetensors(t({}), { a: 1 as unknown as string }),
    /metadata 'a' is a number, expected a string/,
  );
});

Deno.test("decode accepts a crafted valid file with padding and out-of-order header keys", () => {
  const data = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
  const header = JSON.stringify({ b: f32([2], 16), a: f32([2, 2], 0), __metadata__: { k: "v" } }) + "   ";
  const { tensors, metadata } = decodeSafetensors(craft(header, data));
  assert.deepEqual([...tensors.keys()], ["a", "b"]);
  assert.deepEqual([...toF32(tensors.get("b")!)], [5, 6]);
  assert.deepEqual(metadata, { k: "v" });
});

Deno.test("decode names what is wrong in each malformed file", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /5 bytes is shorter than the 8-byte header length/],
    [
      "length past the end",
      craft({}, 0, 1000n),
      /header length 1000 exceeds the 2 bytes after the length field/,
    ],
    ["huge length", craft({}, 0, 2n ** 63n), /header length 9223372036854775808 exceeds/],
    ["empty header", craft("", 0), /header does not start with '\{'/],
    ["not an object", craft("[1, 2]"), /header does not start with '\{'/],
    ["not JSON", craft("{oops}"), /header is not valid JSON/],
    ["null values", craft({ a: null }), /tensor 'a' is not an object/],
    ["bad UTF-8", craft("{X}").map((b, i) => (i === 9 ? 0xff : b)), /not valid UTF-8/],
    ["metadata not strings", craft({ __metadata__: { n: 3 } }), /__metadata__ 'n' is 3, expected a string/],
    ["metadata not object", craft({ __metadata__: "x" }), /__metadata__ is not an object/],
    [
      "unknown dtype",
      craft({ w: { ...f32([1], 0), dtype: "F64" } }, 4),
      /tensor 'w' has unknown dtype "F64"/,
    ],
    [
      "missing dtype",
      craft({ w: { shape: [1], data_offsets: [0, 4] } }, 4),
      /tensor 'w' has unknown dtype undefined/,
    ],
    ["bad shape", craft({ w: { ...f32([1], 0), shape: [1.5] } }, 4), /tensor 'w' has shape \[1.5\]/],
    ["negative dim", craft({ w: { ...f32([1], 0), shape: [-1] } }, 4), /tensor 'w' has shape \[-1\]/],
    [
      "bad offsets",
      craft({ w: { ...f32([1], 0), data_offsets: [0] } }, 4),
      /tensor 'w' has data_offsets \[0\]/,
    ],
    [
      "reversed offsets",
      craft({ w: { ...f32([0], 0), data_offsets: [4, 0] } }, 4),
      /tensor 'w' has data_offsets \[4, 0\] with begin after end/,
    ],
    [
      "size mismatch",
      craft({ w: { ...f32([2, 3], 0), data_offsets: [0, 20] } }, 20),
      /tensor 'w' has shape \[2,3\] of F32 \(24 bytes\) but data_offsets \[0, 20\] span 20/,
    ],
    [
      "out of bounds",
      craft({ w: f32([4], 0) }, 8),
      /tensor 'w' has data_offsets \[0, 16\] beyond the 8-byte data/,
    ],
    ["overlap", craft({ a: f32([2], 0), b: f32([2], 4) }, 12), /tensor 'b' at \[4, 12\) overlaps tensor 'a'/],
    ["gap", craft({ a: f32([1], 0), b: f32([1], 8) }, 12), /4 unused bytes lie before tensor 'b' at 8/],
    [
      "trailing bytes",
      craft({ a: f32([1], 0) }, 7),
      /3 bytes of the 7-byte data region follow the last tensor 'a'/,
    ],
    ["data without tensors", craft({}, 8), /8 bytes of the 8-byte data region follow the last tensor$/],
  ];
  for (const [label, bytes, pattern] of cases) {
    assert.throws(() => decodeSafetensors(bytes, "model.safetensors"), (err: Error) => {
      assert.match(err.message, /^Cannot read model\.safetensors: /, label);
      assert.match(err.message, pattern, label);
      return true;
    }, label);
  }
});

Deno.test("toF32 converts F16 and BF16 exactly and fromF32 rounds to nearest even", () => {
  const values = new Float32Array([
    0,
    -0,
    1,
    -2.5,
    0.1,
    65504,
    65519,
    65520,
    1e-7,
    2 ** -24,
    3 * 2 ** -25,
    6.1e-5,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    Infinity,
    -Infinity,
    NaN,
    3.14159,
    1e30,
    -7e-39,
  ]);
  const half = fromF32(values, "F16");
  const wantHalf = new Float16Array(values); // the platform's correctly rounded conversion
  assert.deepEqual([...half], [...new Uint16Array(wantHalf.buffer)]);
  const back = toF32({ dtype: "F16", shape: [values.length], data: new Uint8Array(half.buffer) });
  assert.deepEqual([...back], [...wantHalf].map(Number));
  const bf = fromF32(values, "BF16");
  const bfBack = toF32({ dtype: "BF16", shape: [values.length], data: new Uint8Array(bf.buffer) });
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) assert.ok(Number.isNaN(bfBack[i]));
    else if (Math.abs(v) > 3e38 || v === 0) assert.equal(bfBack[i], v);
    else assert.ok(Math.abs(bfBack[i] - v) <= Math.abs(v) * 2 ** -8, `bf16 ${v} → ${bfBack[i]}`);
  }
  assert.equal(fromF32(new Float32Array([1 + 2 ** -8]), "BF16")[0], 0x3f80, "tie rounds to even (down)");
  assert.equal(fromF32(new Float32Array([1 + 3 * 2 ** -8]), "BF16")[0], 0x3f82, "tie rounds to even (up)");
  const odd = new Uint8Array(9);
  odd.set(new Uint8Array(new Float32Array([1.5, -3]).buffer), 1);
  assert.deepEqual(
    [...toF32({ dtype: "F32", shape: [2], data: odd.subarray(1) })],
    [1.5, -3],
    "unaligned F32",
  );
  assert.throws(
    () => toF32({ dtype: "I32", shape: [1], data: new Uint8Array(4) }, "ids"),
    /Cannot convert ids/,
  );
});

Deno.test("writeSafetensors replaces a file atomically and readSafetensors reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/model.safetensors`;
    const w = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    await writeSafetensors(path, [{ name: "w", dtype: "F32", shape: [10, 100], data: w }], { step: "1" });
    await writeSafetensors(path, [{ name: "w", dtype: "F32", shape: [10, 100], data: w.map((x) => 2 * x) }], {
      step: "2",
    });
    const read = await readSafetensors(path);
    assert.equal(read.metadata.step, "2");
    assert.deepEqual([...toF32(read.tensors.get("w")!)], [...w.map((x) => 2 * x)]);
    assert.deepEqual(
      await Deno.readFile(path),
      encodeSafetensors(
        [{ name: "w", dtype: "F32", shape: [10, 100], data: w.map((x) => 2 * x) }],
        { step: "2" },
      ),
    );
    await assert.rejects(
      () => writeSafetensors(path, [{ name: "w", dtype: "F32", shape: [3], data: new Float32Array(2) }]),
      /tensor 'w' has 8 bytes/,
    );
    await assert.rejects(
      () => writeSafetensors(`${dir}/missing/x.safetensors`, []),
      /Cannot write .*missing/,
    );
    assert.equal((await readSafetensors(path)).metadata.step, "2", "a failed write leaves the old file");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["model.safetensors"], "no temporary files remain");
    await Deno.writeFile(`${dir}/cut.safetensors`, (await Deno.readFile(path)).subarray(0, 300));
    await assert.rejects(
      () => readSafetensors(`${dir}/cut.safetensors`),
      /Cannot read .*cut.safetensors: tensor 'w'/,
    );
    await assert.rejects(() => readSafetensors(`${dir}/nope`), /Cannot read .*nope/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
