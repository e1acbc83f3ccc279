import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import * as ref from "../reference/moe.ts";
import { MoeLayer, MoeScratch, readMoeMetrics } from "./moe.ts";

for (const K of [1, 2]) {
  gpuTest(`MoE layer forward and backward on the GPU match the reference (top_k=${K})`, async (gpu) => {
    const [N, C, I, E] = [37, 12, 20, 5];
    const s = { N, C, I, E, K };
    const moe = { num_experts: E, top_k: K, layers: "all" as const, aux_loss_coef: 0.3, z_loss_coef: 0.2 };
    const coefs = { auxCoef: 0.3, zCoef: 0.2 };
    const x = randomArray(N * C, 1, 1.5);
    const router = randomArray(E * C, 2, 0.8);
    for (let c = 0; c < C; c++) router[4 * C + c] = -1; // expert 4 is starved, so it gets zero tokens
    const w: ref.MoeWeights = {
      router,
      gate: randomArray(E * I * C, 3, 0.5),
      up: randomArray(E * I * C, 4, 0.5),
      down: randomArray(E * C * I, 5, 0.5),
    };
    const xs = x.map((v) => v);
    for (let t = 0; t < N; t++) for (let c = 0; c < C; c++) xs[t * C + c] = Math.abs(x[t * C + c]); // x·(-1) < 0
    const dy = randomArray(N * C, 6);
    const prev = randomArray(N * C, 7);
    const want = ref.moeForward(xs, w, s, coefs);
    assert.equal(want.stats.fractions[4], 0, "the test should starve expert 4");
    const wantB = ref.moeBackward(dy, want.saved, w, s, coefs, 0.5);

    const up = (a: Float32Array) => createBuffer(gpu.device, "moe layer test", a);
    const W = { router: up(w.router), gate: up(w.gate), up: up(w.up), down: up(w.down) };
    const G = {
      router: up(randomArray(E * C, 8)),
      gate: up(new Float32Array(E * I * C)),
      up: up(new Float32Array(E * I * C)),
      down: up(new Float32Array(E * C * I)),
    };
    const gRouter0 = new Float32Array(await readBuffer(gpu, G.router));
    const [X, DY, OUT] = [up(xs), up(dy), up(prev)];
    const DX = createBuffer(gpu.device, "dx", N * C * 4);
    const layer = new MoeLayer(gpu, s, 3, moe);
    const scratch = new MoeScratch(gpu, s);
    const batch = new CommandBatch(gpu, "moe layer test");
    layer.forward(batch, { x: X, out: OUT, w: W, accumulate: true });
    layer.backward(batch, { dy: DY, dx: DX, x: X, w: W, g: G, scratch, auxScale: 0.5 });
    const metrics = readMoeMetrics(batch, [layer]);
    batch.submit();
    const f32 = async (b: GPUBuffer) => new Float32Array(await readBuffer(gpu, b));
    const tol = { rtol: 1e-3, atol: 1e-5 };
    assertClose(await f32(OUT), prev.map((v, i) => v + want.y[i]), "y", tol);
    assertClose(await f32(DX), wantB.dx, "dx", tol);
    assertClose(
      await f32(G.router),
      gRouter0.map((v, i) => v + wantB.dRouter[i]),
      "drouter (accumulated)",
      tol,
    );
    assertClose(await f32(G.gate), wantB.dGate, "dgate", tol);
    assertClose(await f32(G.up), wantB.dUp, "dup", tol);
    assertClose(await f32(G.down), wantB.dDown, "ddown", tol);
    const m = await metrics;
    assert.ok(Math.abs(m["moe/layer_3_balance"] - want.stats.balance) < 1e-4, "balance metric");
    assert.ok(Math.abs(m["moe/layer_3_entropy"] - want.stats.entropy) < 1e-4, "entropy metric");
    assert.ok(Math.abs(m["moe/layer_3_aux_loss"] - want.aux) < 1e-4, "aux metric");
    assert.equal(m["moe/layer_3_expert_4_fraction"], 0);
    const fsum = [0, 1, 2, 3, 4].reduce((a, e) => a + m[`moe/layer_3_expert_${e}_fraction`], 0);
    assert.ok(Math.abs(fsum - 1) < 1e-6, `fractions sum to ${fsum}`);

    // Inference-style call on fewer tokens: forward alone, no scratch, n < N.
    const n = 5;
    const OUT2 = createBuffer(gpu.device, "out2", N * C * 4);
    const b2 = new CommandBatch(gpu, "moe layer partial");
    layer.forward(b2, { x: X, out: OUT2, w: W, n });
    b2.submit();
    const part = ref.moeForward(xs.subarray(0, n * C), w, { ...s, N: n }, coefs);
    assertClose((await f32(OUT2)).subarray(0, n * C), part.y, "y on the first n tokens", tol);
    layer.destroy();
    scratch.destroy();
    for (const b of [...Object.values(W), ...Object.values(G), X, DY, OUT, DX, OUT2]) b.destroy();
  });
}
