import assert from "node:assert/strict";
import { decodeGguf, encodeGguf, GGML_TYPE, type GgufValue } from "./gguf_format.ts";

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

Deno.test("a GGUF file decodes to the metadata and tensors it was encoded from, each tensor aligned", () => {
  const metadata: [string, GgufValue][] = [
    ["general.architecture", { type: "STRING", value: "llama" }],
    ["llama.block_count", { type: "UINT32", value: 2 }],
    ["llama.rope.freq_base", { type: "FLOAT32", value: 10000 }],
    ["tokenizer.ggml.add_bos_token", { type: "BOOL", value: false }],
    ["big", { type: "UINT64", value: 1n << 40n }],
    ["tokenizer.ggml.tokens", {
      type: "ARRAY",
      itemType: "STRING",
      value: ["a", "Ġb", "<|endoftext|>", "é"],
    }],
    ["tokenizer.ggml.token_type", { type: "ARRAY", itemType: "INT32", value: [1, 1, 3, -1] }],
  ];
  const tensors = [
    { name: "a.weight", type: GGML_TYPE.F32, dims: [3], data: f32(1, 2, 3) },
    { name: "b.weight", type: GGML_TYPE.F16, dims: [2, 3], data: new Uint8Array(12).fill(7) },
    { name: "c.weight", type: GGML_TYPE.F32, dims: [1], data: f32(-1) },
  ];
  const bytes = encodeGguf(metadata, tensors);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "GGUF");
  const file = decodeGguf(bytes);
  assert.equal(file.version, 3);
  assert.deepEqual([...file.metadata], metadata);
  for (const t of tensors) {
    const got = file.tensors.get(t.name)!;
    assert.deepEqual({ ...got, data: [...got.data] }, { ...t, data: [...t.data] });
    assert.equal((got.data.byteOffset - bytes.byteOffset) % 32, 0, `${t.name} is 32-byte aligned`);
  }
  assert.equal(bytes.byteLength % 32, 0);
});

Deno.test("GGUF encoding refuses what llama.cpp would refuse", () => {
  const t = { name: "x", type: GGML_TYPE.F32, dims: [2], data: f32(1, 2) };
  const s: GgufValue = { type: "STRING", value: "v" };
  assert.throws(() => encodeGguf([["k", s], ["k", s]], []), /metadata key 'k' appears twice/);
  assert.throws(() => encodeGguf([], [t, t]), /tensor 'x' appears twice/);
  assert.throws(() => encodeGguf([], [{ ...t, dims: [3] }]), /has 8 bytes, dims \[3\] need 12/);
  assert.throws(() => encodeGguf([], [{ ...t, dims: [0, 2] }]), /positive integers/);
  assert.throws(() => encodeGguf([], [{ ...t, name: "n".repeat(64) }]), /64 bytes or more/);
  assert.throws(() => decodeGguf(new Uint8Array(16)), /GGUF magic/);
  assert.throws(() => decodeGguf(encodeGguf([], [t]).subarray(0, 40)), /ends at byte 40/);
});
