/**
 * The uniform structs the launchers pack by name (src/gpu/struct.ts) against the `struct` declarations in the
 * WGSL sources: same fields, same order, same types, so same offsets. Every `var<uniform>` struct in kernels/ is
 * either checked here or listed as not yet converted, with the launcher that still packs it by position.
 */
import assert from "node:assert/strict";
import { defineStruct, packStruct, type StructLayout, typeLayout } from "../gpu/mod.ts";
import { LOSS_SCALE_PARAMS } from "./amp.ts";
import { ATTENTION_PARAMS } from "./attention.ts";
import { CAST_PARAMS } from "./cast.ts";
import { COPY_PARAMS } from "./copy.ts";
import { CROSS_ENTROPY_PARAMS, SUM_PARAMS } from "./crossentropy.ts";
import { EMBEDDING_PARAMS } from "./embedding.ts";
import { MATMUL_PARAMS } from "./matmul.ts";
import { HYPER, RANGE, REDUCE_PARAMS, SCALE_PARAMS } from "./optimizer.ts";
import { RESIDUAL_PARAMS } from "./residual.ts";
import { RMSNORM_PARAMS } from "./rmsnorm.ts";
import { ROPE_PARAMS } from "./rope.ts";
import { SWIGLU_PARAMS } from "./swiglu.ts";

const KERNELS = new URL("../../kernels/", import.meta.url);

/** Each declared layout and the kernels/*.wgsl files whose struct of the same name it must match. */
const CHECKED: [StructLayout, string[]][] = [
  [ATTENTION_PARAMS, ["attention_common.wgsl"]],
  [CAST_PARAMS, ["cast.wgsl"]],
  [COPY_PARAMS, ["copy.wgsl"]],
  [CROSS_ENTROPY_PARAMS, ["crossentropy.wgsl", "crossentropy_cpu.wgsl"]],
  [SUM_PARAMS, ["crossentropy.wgsl"]],
  [EMBEDDING_PARAMS, ["embedding.wgsl"]],
  [LOSS_SCALE_PARAMS, ["loss_scale_amp.wgsl"]],
  [MATMUL_PARAMS, ["matmul_dense.wgsl"]],
  [REDUCE_PARAMS, ["optimizer.wgsl"]],
  [HYPER, ["optimizer.wgsl"]],
  [RANGE, ["optimizer.wgsl"]],
  [SCALE_PARAMS, ["optimizer.wgsl"]],
  [RESIDUAL_PARAMS, ["residual.wgsl"]],
  [RMSNORM_PARAMS, ["rmsnorm.wgsl", "rmsnorm_cpu.wgsl"]],
  [ROPE_PARAMS, ["rope.wgsl"]],
  [SWIGLU_PARAMS, ["swiglu.wgsl"]],
];

/** Uniform structs whose launchers still pack by position (file → struct names), and why they wait. */
const NOT_YET_CONVERTED: Record<string, { structs: string[]; reason: string }> = {
  "decode.wgsl": {
    structs: ["RopeParams", "CacheParams", "AttendParams", "GatherParams"],
    reason:
      "src/kernels/decode.ts packs by position; the serving path is being merged with training (issue 20 #1)",
  },
  "moe.wgsl": { structs: ["Params"], reason: "src/kernels/moe.ts's params() helper packs by position" },
  "moe_matmul.wgsl": {
    structs: ["MParams", "Params"],
    reason: "src/kernels/moe.ts's mparams()/params() helpers pack by position",
  },
  "sample.wgsl": { structs: ["Params"], reason: "src/kernels/sample.ts packs by position" },
};

/** The `struct` declarations of a WGSL source: name → [field, type] in order (comments dropped). */
function wgslStructs(code: string): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  const bare = code.replace(/\/\/.*$/gm, "");
  for (const m of bare.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}/g)) {
    assert.ok(
      !m[2].includes("@"),
      `struct ${m[1]}: @align/@size attributes are not modelled by defineStruct`,
    );
    const fields: [string, string][] = [];
    for (const f of m[2].matchAll(/(\w+)\s*:\s*(array<.*?>\s*,\s*\d+\s*>|\w+(?:<\w+>)?)/g)) {
      fields.push([f[1], f[2].replace(/\s+/g, "").replace(",", ", ")]);
    }
    out.set(m[1], fields);
  }
  return out;
}

/** The struct types bound as `var<uniform>` in a WGSL source. */
function uniformStructs(code: string): Set<string> {
  const bare = code.replace(/\/\/.*$/gm, "");
  return new Set([...bare.matchAll(/var<uniform>\s+\w+\s*:\s*(\w+)/g)].map((m) => m[1]));
}

async function source(file: string): Promise<string> {
  return await Deno.readTextFile(new URL(file, KERNELS));
}

Deno.test("struct layouts: every packed uniform struct matches its WGSL declaration field for field", async () => {
  for (const [layout, files] of CHECKED) {
    for (const file of files) {
      const declared = wgslStructs(await source(file)).get(layout.name);
      assert.ok(declared, `${file} declares no struct ${layout.name}`);
      assert.deepEqual(
        layout.fields.map((f) => [f.name, f.type]),
        declared,
        `${file}: struct ${layout.name} differs from its TypeScript declaration`,
      );
      // the same offsets, by WGSL's rules, from the WGSL side's own field list
      assert.equal(defineStruct(layout.name, Object.fromEntries(declared) as never).size, layout.size);
    }
  }
});

Deno.test("struct layouts: every var<uniform> struct in kernels/ is checked or listed as not yet converted", async () => {
  const checked = new Set(CHECKED.flatMap(([l, files]) => files.map((f) => `${f}:${l.name}`)));
  for await (const entry of Deno.readDir(KERNELS)) {
    if (!entry.name.endsWith(".wgsl")) continue;
    for (const name of uniformStructs(await source(entry.name))) {
      const key = `${entry.name}:${name}`;
      const pending = NOT_YET_CONVERTED[entry.name]?.structs.includes(name);
      assert.ok(checked.has(key) || pending, `${key} is bound as a uniform but neither checked nor listed`);
      assert.ok(!(checked.has(key) && pending), `${key} is checked: drop it from NOT_YET_CONVERTED`);
    }
  }
});

Deno.test("struct layouts: WGSL alignment rules for the types uniforms use", () => {
  assert.deepEqual(typeLayout("vec2<f32>"), { align: 8, size: 8 });
  assert.deepEqual(typeLayout("vec4<f32>"), { align: 16, size: 16 });
  assert.deepEqual(typeLayout("array<vec4<f32>, 16>"), { align: 16, size: 256 });
  assert.throws(() => typeLayout("array<f32, 4>"), /stride 4 is not a multiple of 16/);
  // a vec4 after one u32 starts at 16; the struct's size rounds up to its 16-byte alignment
  const s = defineStruct("S", { a: "u32", v: "vec4<f32>", b: "f32" });
  assert.deepEqual(s.fields.map((f) => f.offset), [0, 16, 32]);
  assert.equal(s.size, 48);
  assert.equal(ROPE_PARAMS.fields.find((f) => f.name === "inv_freq")?.offset, 32);
  assert.equal(ROPE_PARAMS.size, 288);
  assert.equal(MATMUL_PARAMS.size, 48);
  assert.equal(COPY_PARAMS.size, 4);
});

Deno.test("packStruct writes u32 as Uint32Array and f32 as Float32Array would, padding zero", () => {
  const bytes = packStruct(RMSNORM_PARAMS, { N: 7, C: 5, eps: 1e-5, rows: 2, groups: 4 });
  const u = new Uint32Array(bytes.buffer);
  assert.deepEqual([...u.slice(0, 2), ...u.slice(3)], [7, 5, 2, 4, 0, 0, 0]);
  assert.equal(new Float32Array(bytes.buffer)[2], Math.fround(1e-5));
  const rope = new Float32Array(
    packStruct(ROPE_PARAMS, { pairs: 1, T: 1, H: 1, HS: 4, pos0: 0, inv_freq: [1, 0.5] }).buffer,
  );
  assert.deepEqual([...rope.slice(8, 11)], [1, 0.5, 0]);
  assert.throws(
    () => packStruct(ROPE_PARAMS, { pairs: 1, T: 1, H: 1, HS: 4, pos0: 0, inv_freq: new Float32Array(65) }),
    /inv_freq holds 64 numbers, got 65/,
  );
});
