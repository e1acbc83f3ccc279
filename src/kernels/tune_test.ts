import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer, TuningTable } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { matmul as matmulRef } from "../reference/matmul.ts";
import { matmul, MATMUL_VARIANT_NAMES, MATMUL_VARIANTS } from "./matmul.ts";
import { tunePending } from "./tune.ts";
import { rmsnormForward } from "./rmsnorm.ts";
import { crossEntropyLoss } from "./crossentropy.ts";
import { attentionBlockedPlan, attentionForward } from "./attention.ts";

gpuTest(
  "the tuner times every candidate of a queued matmul shape and later calls run the winner",
  async (gpu) => {
    const saved = gpu.tuning;
    gpu.tuning = new TuningTable(); // this test's own table: other tests keep the defaults
    try {
      const [M, K, N] = [37, 29, 45];
      const a = randomArray(M * K, 1);
      const b = randomArray(N * K, 2);
      const A = createBuffer(gpu.device, "A", a);
      const B = createBuffer(gpu.device, "B", b);
      const C = createBuffer(gpu.device, "C", M * N * 4);
      const want = matmulRef(a, b, M, K, N, { transB: true });
      const run = async () => {
        const batch = new CommandBatch(gpu, "tuned matmul");
        matmul(batch, { a: A, b: B, c: C, M, K, N, transB: true });
        batch.submit();
        return new Float32Array(await readBuffer(gpu, C));
      };
      assertClose(await run(), want, "untuned");
      assert.equal(gpu.tuning.pending.length, 1);
      const [req] = gpu.tuning.pending;
      // Every variant that runs this unaligned shape (the vec4 core does not).
      const fitting = MATMUL_VARIANT_NAMES.filter((v) => MATMUL_VARIANTS[v].core !== "vec4");
      assert.deepEqual([...req.candidates].sort(), [...fitting].sort());
      const seen: string[] = [];
      const tuned = await tunePending(gpu, { onShape: (t) => seen.push(t.shape) });
      assert.equal(tuned.length, 1);
      assert.deepEqual(seen, [req.shape]);
      const { variant, times } = tuned[0].result;
      assert.deepEqual(Object.keys(times).sort(), [...fitting].sort());
      for (const t of Object.values(times)) assert.ok(t > 0 && Number.isFinite(t), `time ${t}`);
      assert.ok(Object.values(times).every((t) => times[variant] <= t * 1.04), `the winner is the fastest`);
      assert.deepEqual(gpu.tuning.pending, []);
      assertClose(await run(), want, `tuned (${variant})`);
      assert.deepEqual(gpu.tuning.pending, [], "a tuned shape is not queued again");
      for (const x of [A, B, C]) x.destroy();
    } finally {
      gpu.tuning = saved;
    }
  },
);

gpuTest(
  "rmsnorm and cross-entropy shapes are queued, timed in both variants, and then run tuned",
  async (gpu) => {
    const saved = gpu.tuning;
    gpu.tuning = new TuningTable();
    try {
      const [N, C, V] = [21, 12, 37];
      const x = createBuffer(gpu.device, "x", randomArray(N * C, 3));
      const w = createBuffer(gpu.device, "w", randomArray(C, 4));
      const out = createBuffer(gpu.device, "out", N * C * 4);
      const rstd = createBuffer(gpu.device, "rstd", N * 4);
      const logits = createBuffer(gpu.device, "logits", randomArray(N * V, 5));
      const targets = createBuffer(gpu.device, "targets", new Uint32Array(N).map((_, i) => i % V));
      const losses = createBuffer(gpu.device, "losses", N * 4);
      const record = () => {
        const batch = new CommandBatch(gpu, "tuned rows");
        rmsnormForward(batch, { x, weight: w, out, rstd, N, C, eps: 1e-5 });
        crossEntropyLoss(batch, { logits, targets, losses, N, V });
        batch.submit();
      };
      record();
      assert.deepEqual(gpu.tuning.pending.map((r) => r.family), ["rmsnorm", "crossentropy"]);
      const tuned = await tunePending(gpu);
      assert.deepEqual(tuned.map((t) => [t.family, Object.keys(t.result.times).sort()]), [
        ["rmsnorm", ["cpu", "gpu"]],
        ["crossentropy", ["cpu", "gpu"]],
      ]);
      record();
      assert.deepEqual(gpu.tuning.pending, []);
      for (const b of [x, w, out, rstd, logits, targets, losses]) b.destroy();
    } finally {
      gpu.tuning = saved;
    }
  },
);

gpuTest(
  "attention shapes are tuned over every variant the device fits, and the winner reproduces the result",
  async (gpu) => {
    const saved = gpu.tuning;
    gpu.tuning = new TuningTable();
    try {
      const s = { B: 2, T: 11, NH: 2, KVH: 1, HS: 8 };
      const q = createBuffer(gpu.device, "q", randomArray(2 * 11 * 2 * 8, 6));
      const k = createBuffer(gpu.device, "k", randomArray(2 * 11 * 8, 7));
      const v = createBuffer(gpu.device, "v", randomArray(2 * 11 * 8, 8));
      const out = createBuffer(gpu.device, "out", 2 * 11 * 2 * 8 * 4);
      const lse = createBuffer(gpu.device, "lse", 2 * 2 * 11 * 4);
      const run = async (kernel?: "cpu" | "blocked" | "generic") => {
        const batch = new CommandBatch(gpu, "tuned attention");
        attentionForward(batch, { ...s, kernel, q, k, v, out, lse });
        batch.submit();
        return new Float32Array(await readBuffer(gpu, out));
      };
      const untuned = await run();
      const [req] = gpu.tuning.pending;
      assert.equal(req.family, "attention");
      const [tuned] = await tunePending(gpu);
      const fits = !!attentionBlockedPlan(gpu, "forward", s.HS);
      assert.deepEqual(
        Object.keys(tuned.result.times).sort(),
        fits ? ["blocked", "cpu", "generic"] : ["cpu", "generic"],
      );
      const winner = tuned.result.variant as "cpu" | "blocked" | "generic";
      assertClose(await run(), await run(winner), `auto after tuning runs ${winner}`, { rtol: 0, atol: 0 });
      assertClose(await run(), untuned, "every variant agrees", { rtol: 1e-5, atol: 1e-6 });
      for (const b of [q, k, v, out, lse]) b.destroy();
    } finally {
      gpu.tuning = saved;
    }
  },
);
