import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer, upload } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { adamwStep, globalNorm } from "../reference/optimizer.ts";
import { adamw, adamwHyper, gradNormScratchFloats, gradNormSquared, scaleInPlace } from "./optimizer.ts";

const sumSquares = (x: Float32Array) => globalNorm(x) ** 2;

gpuTest("gradNormSquared matches Σg² on odd sizes and is bitwise deterministic", async (gpu) => {
  for (const n of [1, 7, 255, 2048, 2049, 100_003, 3_000_001]) {
    const g = randomArray(n, n, 0.5);
    const G = createBuffer(gpu.device, "dparams", g); // (n)
    const scratch = createBuffer(gpu.device, "scratch", gradNormScratchFloats(n) * 4);
    const out = createBuffer(gpu.device, "norm", 4 * 4); // (4) slots
    const got: number[] = [];
    for (let run = 0; run < 2; run++) {
      const batch = new CommandBatch(gpu, "grad norm test");
      gradNormSquared(batch, { grads: G, n, scratch, out, outSlot: 2 });
      batch.submit();
      got.push(new Float32Array(await readBuffer(gpu, out))[2]);
    }
    assertClose([got[0]], [sumSquares(g)], `n=${n}`, { rtol: 1e-5, atol: 0 });
    assert.equal(got[0], got[1], `n=${n}: two runs differ`);
    for (const b of [G, scratch, out]) b.destroy();
  }
});

gpuTest("gradNormSquared reads a bound range and accumulates across buffers", async (gpu) => {
  const [n1, n2] = [5000, 333];
  const g1 = randomArray(n1 + 64, 1);
  const g2 = randomArray(n2, 2);
  const G1 = createBuffer(gpu.device, "dparams 1", g1); // (64 + n1): the range starts 256 bytes in
  const G2 = createBuffer(gpu.device, "dparams 2", g2); // (n2)
  const scratch = createBuffer(gpu.device, "scratch", gradNormScratchFloats(n1) * 4);
  const out = createBuffer(gpu.device, "norm", new Float32Array([7, 7]));
  const batch = new CommandBatch(gpu, "grad norm accumulate test");
  gradNormSquared(batch, {
    grads: { buffer: G1, offset: 256, size: n1 * 4 },
    n: n1,
    scratch,
    out,
    outSlot: 1,
  });
  gradNormSquared(batch, { grads: G2, n: n2, scratch, out, outSlot: 1, accumulate: true });
  batch.submit();
  const got = new Float32Array(await readBuffer(gpu, out));
  assert.equal(got[0], 7, "other slots are untouched");
  assertClose([got[1]], [sumSquares(g1.subarray(64)) + sumSquares(g2)], "accumulated", { rtol: 1e-5 });
});

gpuTest("adamw matches the reference over ranges with clipping on and off", async (gpu) => {
  const P = 1000;
  // Ranges like the layout's: decayed, a gap left alone, undecayed with odd size, a one-element tensor.
  const ranges = [
    { offset: 0, count: 300, weightDecay: 0.1 },
    { offset: 320, count: 321, weightDecay: 0 },
    { offset: 704, count: 1, weightDecay: 0.1 },
  ];
  const p = randomArray(P, 11);
  const m = new Float32Array(P);
  const v = new Float32Array(P);
  const bufs = {
    p: createBuffer(gpu.device, "params", p), // (P)
    g: createBuffer(gpu.device, "dparams", P * 4), // (P)
    m: createBuffer(gpu.device, "m", m), // (P)
    v: createBuffer(gpu.device, "v", v), // (P)
    scratch: createBuffer(gpu.device, "scratch", gradNormScratchFloats(P) * 4),
    norm: createBuffer(gpu.device, "norm", 16), // (4) slots
  };
  for (let step = 1; step <= 4; step++) {
    const g = randomArray(P, step, step === 2 ? 0.001 : 2); // step 2 stays under the clip
    upload(gpu.device, bufs.g, g);
    const h = { lr: 0.05 / step, beta1: 0.9, beta2: 0.95, eps: 1e-8, step, clip: step === 4 ? 0 : 1 };
    const batch = new CommandBatch(gpu, "adamw test");
    gradNormSquared(batch, { grads: bufs.g, n: P, scratch: bufs.scratch, out: bufs.norm, outSlot: 3 });
    const hyper = adamwHyper(batch, h);
    for (const r of ranges) {
      adamw(batch, {
        params: bufs.p,
        grads: bufs.g,
        m: bufs.m,
        v: bufs.v,
        normSq: bufs.norm,
        normSlot: 3,
        hyper,
        ...r,
      });
      adamwStep(p, g, m, v, { ...h, ...r });
    }
    batch.submit();
    const [gotP, gotM, gotV] = await Promise.all(
      [bufs.p, bufs.m, bufs.v].map(async (b) => new Float32Array(await readBuffer(gpu, b))),
    );
    assertClose(gotM, m, `m step ${step}`, { rtol: 1e-5, atol: 1e-7 });
    assertClose(gotV, v, `v step ${step}`, { rtol: 1e-5, atol: 1e-9 });
    assertClose(gotP, p, `params step ${step}`, { rtol: 1e-5, atol: 1e-6 });
  }
  for (const b of Object.values(bufs)) b.destroy();
});

gpuTest("adamwHyper rejects a step that is not an integer ≥ 1", (gpu) => {
  const batch = new CommandBatch(gpu, "hyper test");
  assert.throws(
    () => adamwHyper(batch, { lr: 1, beta1: 0.9, beta2: 0.95, eps: 1e-8, step: 0, clip: 1 }),
    /Cannot build AdamW hyperparameters: step 0/,
  );
});

gpuTest("scaleInPlace scales the first n elements only", async (gpu) => {
  const n = 70_001;
  const x = randomArray(n + 3, 4);
  const X = createBuffer(gpu.device, "x", x); // (n + 3)
  const batch = new CommandBatch(gpu, "scale test");
  scaleInPlace(batch, { x: X, n, scale: 0.25 });
  batch.submit();
  const got = new Float32Array(await readBuffer(gpu, X));
  const want = x.map((e, i) => (i < n ? e * 0.25 : e));
  assertClose(got, want, "scaled", { rtol: 0, atol: 0 });
  X.destroy();
});

gpuTest(
  "adamw with skipSlot leaves params and moments unchanged while the AMP overflow flag is set",
  async (gpu) => {
    const P = 1000;
    const p = randomArray(P, 1);
    const bufs = {
      p: createBuffer(gpu.device, "params", p),
      g: createBuffer(gpu.device, "dparams", randomArray(P, 2)),
      m: createBuffer(gpu.device, "m", P * 4),
      v: createBuffer(gpu.device, "v", P * 4),
      norm: createBuffer(gpu.device, "norm", new Float32Array([0, 4, 0, 1])), // Σg² at 1, flag at 3
    };
    const update = async () => {
      const batch = new CommandBatch(gpu, "adamw skip test");
      const hyper = adamwHyper(batch, { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, step: 1, clip: 1 });
      adamw(batch, {
        params: bufs.p,
        grads: bufs.g,
        m: bufs.m,
        v: bufs.v,
        normSq: bufs.norm,
        normSlot: 1,
        hyper,
        offset: 0,
        count: P,
        weightDecay: 0.1,
        skipSlot: 3,
      });
      batch.submit();
      return new Float32Array(await readBuffer(gpu, bufs.p));
    };
    assert.deepEqual(await update(), p);
    assert.deepEqual(new Float32Array(await readBuffer(gpu, bufs.m)), new Float32Array(P));
    upload(gpu.device, bufs.norm, new Float32Array([0]), 12); // flag cleared: the update happens
    const after = await update();
    assert.ok(after.some((x, i) => x !== p[i]));
    for (const b of Object.values(bufs)) b.destroy();
  },
);
