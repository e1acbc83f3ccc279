import assert from "node:assert/strict";
import { CommandBatch, createBuffer, type Gpu, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import {
  attentionBackward as attentionBackwardRef,
  attentionForward as attentionForwardRef,
} from "../reference/attention.ts";
import {
  ATTENTION,
  ATTENTION_CPU,
  ATTENTION_CPU4,
  ATTENTION_ROWS,
  ATTENTION_VARIANTS,
  attentionBackward,
  attentionBlockedPlan,
  attentionForward,
  attentionScratchFloats,
  type AttentionVariant,
} from "./attention.ts";

// [B, T, NH, KVH, HS]: T a multiple of no tile (blocked 32/64 rows, generic 8–32, cpu 8 rows and 4-row steps),
// grouped kv heads (group 2, 3 and 4), head sizes 8/16/48/64/128 and one not a multiple of 4 (the scalar edge path).
const shapes: [number, number, number, number, number][] = [
  [1, 1, 1, 1, 8],
  [2, 5, 4, 2, 16],
  [1, 33, 2, 2, 48],
  [2, 70, 4, 2, 8],
  [1, 70, 6, 3, 48],
  [2, 9, 2, 1, 6],
  [1, 45, 4, 1, 64],
  [1, 21, 2, 1, 128],
  [1, 67, 4, 2, 128],
];

interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dout: Float32Array;
}

function inputs(B: number, T: number, NH: number, KVH: number, HS: number): Inputs {
  const seed = B * 1000 + T * 10 + HS;
  return {
    q: randomArray(B * T * NH * HS, seed + 1, 1.5),
    k: randomArray(B * T * KVH * HS, seed + 2, 1.5),
    v: randomArray(B * T * KVH * HS, seed + 3),
    dout: randomArray(B * T * NH * HS, seed + 4),
  };
}

/** Runs forward then backward on the GPU, with dq/dk/dv prefilled with garbage to prove they are overwritten. */
type Kernel = "auto" | AttentionVariant;

async function runGpu(gpu: Gpu, shape: number[], x: Inputs, kernel: Kernel) {
  const [B, T, NH, KVH, HS] = shape;
  const d = gpu.device;
  const Q = createBuffer(d, "q", x.q);
  const K = createBuffer(d, "k", x.k);
  const V = createBuffer(d, "v", x.v);
  const dO = createBuffer(d, "dout", x.dout);
  const out = createBuffer(d, "out", x.q.length * 4);
  const lse = createBuffer(d, "lse", B * NH * T * 4);
  const dq = createBuffer(d, "dq", randomArray(x.q.length, 9, 100));
  const dk = createBuffer(d, "dk", randomArray(x.k.length, 9, 100));
  const dv = createBuffer(d, "dv", randomArray(x.v.length, 9, 100));
  const scratch = createBuffer(d, "scratch", attentionScratchFloats(B, T, NH) * 4);
  const batch = new CommandBatch(gpu, "attention test");
  const s = { B, T, NH, KVH, HS, kernel };
  attentionForward(batch, { ...s, q: Q, k: K, v: V, out, lse });
  attentionBackward(batch, { ...s, q: Q, k: K, v: V, out, lse, dout: dO, dq, dk, dv, scratch });
  batch.submit();
  const read = async (b: GPUBuffer) => new Float32Array(await readBuffer(gpu, b));
  const got = {
    out: await read(out),
    lse: await read(lse),
    dq: await read(dq),
    dk: await read(dk),
    dv: await read(dv),
  };
  for (const b of [Q, K, V, dO, out, lse, dq, dk, dv, scratch]) b.destroy();
  return got;
}

/** Why this adapter cannot run `kernel` at head size HS, or null when it can. */
function unfit(gpu: Gpu, kernel: AttentionVariant, HS: number): string | null {
  if (kernel !== "blocked") return null;
  const entry = (["forward", "backward_kv", "backward_q"] as const).find((e) =>
    !attentionBlockedPlan(gpu, e, HS)
  );
  return entry
    ? `blocked ${entry} at HS=${HS} needs more than ${gpu.limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory`
    : null;
}

// Every variant on every shape, whatever the adapter, so a CPU CI run covers the GPU kernels and vice versa.
for (const kernel of ATTENTION_VARIANTS) {
  for (const shape of shapes) {
    const [B, T, NH, KVH, HS] = shape;
    const label = `${kernel} B=${B} T=${T} NH=${NH} KVH=${KVH} HS=${HS}`;
    gpuTest(
      `${kernel} attention matches the reference at B=${B} T=${T} NH=${NH} KVH=${KVH} HS=${HS}`,
      { unless: (gpu) => unfit(gpu, kernel, HS) },
      async (gpu) => {
        const x = inputs(B, T, NH, KVH, HS);
        const got = await runGpu(gpu, shape, x, kernel);
        const want = attentionForwardRef(x.q, x.k, x.v, B, T, NH, KVH, HS);
        const grads = attentionBackwardRef(x.dout, x.q, x.k, x.v, want.out, want.lse, B, T, NH, KVH, HS);
        assertClose(got.out, want.out, `out ${label}`, { rtol: 1e-4, atol: 1e-5 });
        assertClose(got.lse, want.lse, `lse ${label}`, { rtol: 1e-5, atol: 1e-5 });
        assertClose(got.dq, grads.dq, `dq ${label}`, { rtol: 1e-3, atol: 1e-5 });
        assertClose(got.dk, grads.dk, `dk ${label}`, { rtol: 1e-3, atol: 1e-5 });
        assertClose(got.dv, grads.dv, `dv ${label}`, { rtol: 1e-3, atol: 1e-5 });
      },
    );
  }

  gpuTest(`${kernel} attention is bitwise deterministic`, async (gpu) => {
    const shape = [2, 37, 4, 2, 16];
    const x = inputs(2, 37, 4, 2, 16);
    const a = await runGpu(gpu, shape, x, kernel);
    const b = await runGpu(gpu, shape, x, kernel);
    for (const key of ["out", "lse", "dq", "dk", "dv"] as const) {
      assert.deepEqual(new Uint32Array(a[key].buffer), new Uint32Array(b[key].buffer), key);
    }
  });
}

gpuTest(
  "auto attention runs the cpu kernels on a fallback adapter and the blocked ones elsewhere",
  async (gpu) => {
    const shape = [2, 37, 4, 2, 16];
    const x = inputs(2, 37, 4, 2, 16);
    const expected = gpu.summary.isFallback ? "cpu" : "blocked";
    const a = await runGpu(gpu, shape, x, "auto");
    const b = await runGpu(gpu, shape, x, expected);
    for (const key of ["out", "lse", "dq", "dk", "dv"] as const) {
      assert.deepEqual(
        new Uint32Array(a[key].buffer),
        new Uint32Array(b[key].buffer),
        `${key} (${expected})`,
      );
    }
  },
);

gpuTest(
  "attention uses the blocked kernels for the model head sizes on 32 KiB of workgroup memory",
  {
    unless: (gpu) =>
      gpu.limits.maxComputeWorkgroupStorageSize < 32768
        ? `maxComputeWorkgroupStorageSize is ${gpu.limits.maxComputeWorkgroupStorageSize} bytes (< 32 KiB)`
        : null,
  },
  (gpu) => {
    for (const entry of ["forward", "backward_kv", "backward_q"] as const) {
      for (const HS of [8, 16, 48, 64]) assert.ok(attentionBlockedPlan(gpu, entry, HS), `${entry} HS=${HS}`);
    }
  },
);

gpuTest("attention rejects kv heads that do not divide the query heads", (gpu) => {
  const batch = new CommandBatch(gpu, "attention bad shape");
  const buf = gpu.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE, label: "dummy" });
  assert.throws(
    () =>
      attentionForward(batch, {
        q: buf,
        k: buf,
        v: buf,
        out: buf,
        lse: buf,
        B: 1,
        T: 4,
        NH: 3,
        KVH: 2,
        HS: 8,
      }),
    /Cannot run attention forward: NH=3 is not a multiple of KVH=2/,
  );
  buf.destroy();
});

Deno.test("each attention module holds one family's entry points and the shared prelude's backward_delta", () => {
  const entries = (code: string) => [...code.matchAll(/@compute[^\n]*\nfn (\w+)/g)].map((m) => m[1]).sort();
  assert.deepEqual(entries(ATTENTION.code), [
    "backward_delta",
    "backward_kv_blocked",
    "backward_q_blocked",
    "forward_blocked",
  ]);
  assert.deepEqual(entries(ATTENTION_ROWS.code), ["backward_delta", "backward_kv", "backward_q", "forward"]);
  for (const kernel of [ATTENTION_CPU, ATTENTION_CPU4]) {
    assert.deepEqual(entries(kernel.code), [
      "backward_delta",
      "backward_kv_cpu",
      "backward_q_cpu",
      "forward_cpu",
    ]);
  }
});
