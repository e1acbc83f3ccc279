import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { gpuTest, randomArray } from "../gpu/testing.ts";
import { applyRepetitionPenalty, keptSet, sampleReference } from "../reference/sample.ts";
import { type GpuSampleSpec, packSpecs, sample, seenBitmap, seenWords } from "./sample.ts";

const u32 = (data: ArrayBuffer) => new Uint32Array(data);
/** The slot of decode row `dst` in runSample's rows buffer ({slot, pos} = {2·dst, 2·dst + 1}). */
const rows0 = (dst: number) => 2 * dst;

/**
 * Runs `launches` sampling dispatches over S rows (row s at slot s + 2, seen bitmaps from `seen[s]`); returns
 * (out, ids, rows, specs, seen) read back, out from row 1 on.
 */
async function runSample(
  gpu: Parameters<Parameters<typeof gpuTest>[1]>[0],
  logits: Float32Array,
  specs: GpuSampleSpec[],
  decode: boolean,
  seen: number[][] = [],
  launches = 1,
) {
  const S = specs.length;
  const V = logits.length / S;
  const dev = gpu.device;
  const L = createBuffer(dev, "logits", logits);
  const P = createBuffer(dev, "specs", packSpecs(specs));
  const ids = createBuffer(dev, "ids", new Uint32Array(S + 2).fill(7));
  const out = createBuffer(dev, "out", new Uint32Array(3 * S).fill(99999));
  const rows = createBuffer(dev, "rows", Uint32Array.from({ length: 2 * (S + 2) }, (_, i) => i));
  const W = seenWords(V);
  const bitmaps = new Uint32Array((2 * S + 4) * W);
  specs.forEach((spec, s) => bitmaps.set(seenBitmap(seen[s] ?? [], V), rows0(spec.dst) * W));
  const seenBuf = createBuffer(dev, "seen", bitmaps);
  const batch = new CommandBatch(gpu, "sample test");
  for (let i = 0; i < launches; i++) {
    sample(batch, { logits: L, specs: P, ids, out, rows, seen: seenBuf, S, V, step: 1, decode });
  }
  batch.submit();
  const res = {
    out: u32(await readBuffer(gpu, out)).slice(S, 3 * S),
    ids: u32(await readBuffer(gpu, ids)),
    rows: u32(await readBuffer(gpu, rows)),
    specs: u32(await readBuffer(gpu, P)),
    seen: u32(await readBuffer(gpu, seenBuf)),
  };
  for (const b of [L, P, ids, out, rows, seenBuf]) b.destroy();
  return res;
}

gpuTest("sample: greedy picks the first maximum on odd vocab sizes", async (gpu) => {
  for (const V of [1, 7, 300, 513, 1000]) {
    const S = 3;
    const logits = randomArray(S * V, V, 4);
    if (V > 10) logits[V + 5] = logits[V + 9] = 50; // a tie in row 1: the lower index wins
    const specs = Array.from(
      { length: S },
      (_, s) => ({ dst: s, seed: s, counter: 0, topK: 0, topP: 1, temperature: 0 }),
    );
    const { out, ids } = await runSample(gpu, logits, specs, false);
    for (let s = 0; s < S; s++) {
      const want = sampleReference(logits.subarray(s * V, (s + 1) * V), specs[s]);
      assert.equal(out[s], want, `V=${V} row ${s}`);
      assert.equal(ids[s], want);
    }
  }
});

gpuTest(
  "sample: temperature, top-k and top-p agree with the reference and stay in the kept set",
  async (gpu) => {
    const V = 301;
    const S = 64;
    const logits = randomArray(S * V, 5, 3);
    const specs: GpuSampleSpec[] = Array.from({ length: S }, (_, s) => ({
      dst: S - 1 - s,
      seed: 1000 + s,
      counter: s * 3,
      temperature: [0.3, 0.8, 1, 1.7][s % 4],
      topK: [0, 1, 10, 50, 400][s % 5],
      topP: [1, 0.95, 0.5][s % 3],
    }));
    const { out, ids } = await runSample(gpu, logits, specs, false);
    let agree = 0;
    for (let s = 0; s < S; s++) {
      const row = logits.subarray(s * V, (s + 1) * V);
      assert.ok(keptSet(row, specs[s]).has(out[s]), `row ${s}: ${out[s]} outside the kept set`);
      assert.equal(ids[specs[s].dst], out[s], "the sampled id lands at dst");
      if (sampleReference(row, specs[s]) === out[s]) agree++;
    }
    // Sums run in a different order on the GPU, so a draw right at a boundary may fall either way.
    assert.ok(agree >= S - 2, `only ${agree}/${S} draws equal the reference`);
  },
);

gpuTest("sample: decode mode advances the row position and the RNG counter", async (gpu) => {
  const V = 50;
  const logits = randomArray(2 * V, 1);
  const specs = [0, 1].map((s) => ({ dst: s, seed: 1, counter: 10 + s, topK: 0, topP: 1, temperature: 1 }));
  const { rows, specs: after } = await runSample(gpu, logits, specs, true);
  assert.deepEqual([...rows.slice(0, 6)], [0, 2, 2, 4, 4, 5]);
  assert.equal(after[2], 11);
  assert.equal(after[8 + 2], 12);
});

gpuTest(
  "sample: top-k with more tied candidates than the fast path holds falls back and keeps every tie",
  async (gpu) => {
    const V = 600;
    const S = 8;
    const logits = new Float32Array(S * V); // all equal: 600 ties at the k-th key
    for (let s = 0; s < S; s++) logits[s * V + 3 * s] = 0.5; // one clear winner per row, then ties
    const specs = Array.from(
      { length: S },
      (_, s) => ({ dst: s, seed: s, counter: 0, topK: 5, topP: 1, temperature: 1 }),
    );
    const { out } = await runSample(gpu, logits, specs, false);
    const picked = new Set(out);
    for (let s = 0; s < S; s++) {
      const want = sampleReference(logits.subarray(s * V, (s + 1) * V), specs[s]);
      assert.ok(keptSet(logits.subarray(s * V, (s + 1) * V), specs[s]).has(out[s]));
      assert.equal(out[s], want, `row ${s}`);
    }
    assert.ok(picked.size > 1);
  },
);

gpuTest(
  "sample: the repetition penalty rescales seen logits before greedy and sampled picks",
  async (gpu) => {
    const V = 333;
    const S = 24;
    const logits = randomArray(S * V, 6, 3);
    const seen: number[][] = [];
    const specs: GpuSampleSpec[] = Array.from({ length: S }, (_, s) => {
      const row = logits.subarray(s * V, (s + 1) * V);
      let best = 0;
      for (let i = 1; i < V; i++) if (row[i] > row[best]) best = i;
      // The row's argmax, a few negative logits and ids on both sides of a word boundary are "already seen".
      seen.push([best, 31, 32, 33, V - 1, ...Array.from({ length: 20 }, (_, j) => (s * 17 + j * 13) % V)]);
      return {
        dst: s,
        seed: 9 + s,
        counter: s,
        temperature: s % 3 === 0 ? 0 : [0.5, 1][s % 2],
        topK: [0, 5, 60][s % 3],
        topP: [1, 0.9][s % 2],
        repetitionPenalty: [1.3, 2, 0.7, 50][s % 4],
      };
    });
    const { out, seen: after } = await runSample(gpu, logits, specs, false, seen);
    const W = seenWords(V);
    let agree = 0;
    let changed = 0;
    for (let s = 0; s < S; s++) {
      const row = logits.subarray(s * V, (s + 1) * V);
      const penalized = applyRepetitionPenalty(row, seen[s], specs[s].repetitionPenalty!);
      const want = sampleReference(penalized, specs[s]);
      if (specs[s].temperature === 0) assert.equal(out[s], want, `greedy row ${s}`);
      else assert.ok(keptSet(penalized, specs[s]).has(out[s]), `row ${s}: ${out[s]} outside the kept set`);
      if (want === out[s]) agree++;
      if (want !== sampleReference(row, specs[s])) changed++;
      const bits = after.subarray(rows0(s) * W, (rows0(s) + 1) * W);
      assert.deepEqual(
        [...bits],
        [...seenBitmap([...seen[s], out[s]], V)],
        `row ${s}: the pick joins the bitmap`,
      );
    }
    assert.ok(agree >= S - 2, `only ${agree}/${S} draws equal the reference`);
    assert.ok(changed >= S / 4, `the penalty changed only ${changed} picks`);
  },
);

gpuTest(
  "sample: in decode mode each launch writes the next output row (step + counter − start)",
  async (gpu) => {
    const V = 40;
    const S = 3;
    const logits = randomArray(S * V, 2);
    const specs = Array.from({ length: S }, (_, s) => ({
      dst: s,
      seed: s,
      counter: 5 + s,
      topK: 0,
      topP: 1,
      temperature: 1,
    }));
    const { out, specs: after } = await runSample(gpu, logits, specs, true, [], 2);
    for (let s = 0; s < S; s++) {
      const row = logits.subarray(s * V, (s + 1) * V);
      assert.equal(out[s], sampleReference(row, specs[s]), `row ${s}, first launch`);
      assert.equal(
        out[S + s],
        sampleReference(row, { ...specs[s], counter: specs[s].counter + 1 }),
        `second launch`,
      );
      assert.equal(after[8 * s + 2], specs[s].counter + 2);
    }
  },
);
