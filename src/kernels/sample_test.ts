import assert from "node:assert/strict";
import { CommandBatch, createBuffer, type Gpu, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import {
  applyLogitBias,
  applyRepetitionPenalty,
  keptSet,
  type LogitBias,
  logprobsReference,
  processLogits,
  sampleReference,
  type TokenLogprob,
} from "../reference/sample.ts";
import {
  type GpuSampleSpec,
  LOGPROB_WORDS,
  NO_TARGET,
  packLogitBias,
  packSpecs,
  promptLogprobs,
  readLogprob,
  sample,
  seenBitmap,
  seenWords,
  slotWords,
  SPEC_BYTES,
} from "./sample.ts";

const u32 = (data: ArrayBuffer) => new Uint32Array(data);
/** The slot of decode row `dst` in runSample's rows buffer ({slot, pos} = {2·dst, 2·dst + 1}). */
const rows0 = (dst: number) => 2 * dst;
/** u32 words per packed spec. */
const SW = SPEC_BYTES / 4;

/**
 * The bias buffer of `specs`' logit bias lists, each placed at a biasOffset of its own with 3 decoy pairs (a huge
 * bias on id 0) before it, so a wrong offset or count shows; returns the specs with their offsets set.
 */
function placeBias(specs: GpuSampleSpec[]): { specs: GpuSampleSpec[]; pairs: Uint32Array } {
  const decoy: LogitBias = [[0, 1e6], [0, 1e6], [0, 1e6]];
  const lists: LogitBias[] = [];
  let next = 0;
  const placed = specs.map((spec) => {
    if (!spec.logitBias?.length) return spec;
    lists.push(decoy, spec.logitBias);
    next += decoy.length;
    const at = next;
    next += spec.logitBias.length;
    return { ...spec, biasOffset: at };
  });
  lists.push(decoy);
  return { specs: placed, pairs: packLogitBias(lists.flat()) };
}

/**
 * Runs `launches` sampling dispatches over S rows (row s at slot 2·dst; its seen bitmap from `seen[s]` and its
 * generated-id counts from `generated[s]`; its logit bias from its spec, see placeBias); returns (out, records,
 * ids, rows, specs, state) read back, out and records from output row 1 on.
 */
async function runSample(
  gpu: Gpu,
  logits: Float32Array,
  specs: GpuSampleSpec[],
  decode: boolean,
  { seen = [], generated = [], launches = 1 }: {
    seen?: number[][];
    generated?: number[][];
    launches?: number;
  } = {},
) {
  const S = specs.length;
  const V = logits.length / S;
  const dev = gpu.device;
  const L = createBuffer(dev, "logits", logits);
  const placed = placeBias(specs);
  const P = createBuffer(dev, "specs", packSpecs(placed.specs));
  const bias = createBuffer(dev, "bias", placed.pairs);
  const ids = createBuffer(dev, "ids", new Uint32Array(S + 2).fill(7));
  const lpBase = 3 * S;
  const out = createBuffer(dev, "out", new Uint32Array(3 * S * (1 + LOGPROB_WORDS)).fill(99999));
  const rows = createBuffer(dev, "rows", Uint32Array.from({ length: 2 * (S + 2) }, (_, i) => i));
  const W = slotWords(V);
  const state = new Uint32Array((2 * S + 4) * W);
  specs.forEach((spec, s) => {
    const o = rows0(spec.dst) * W;
    state.set(seenBitmap(seen[s] ?? [], V), o);
    for (const id of generated[s] ?? []) state[o + seenWords(V) + id]++;
  });
  const stateBuf = createBuffer(dev, "seen", state);
  const raw = createBuffer(dev, "raw", S * V * 4);
  const batch = new CommandBatch(gpu, "sample test");
  for (let i = 0; i < launches; i++) {
    sample(batch, {
      logits: L,
      specs: P,
      ids,
      out,
      rows,
      seen: stateBuf,
      raw,
      bias,
      S,
      V,
      step: 1,
      lpBase,
      decode,
    });
  }
  batch.submit();
  const all = u32(await readBuffer(gpu, out));
  const res = {
    out: all.slice(S, 3 * S),
    records: all.slice(lpBase + S * LOGPROB_WORDS),
    ids: u32(await readBuffer(gpu, ids)),
    rows: u32(await readBuffer(gpu, rows)),
    specs: u32(await readBuffer(gpu, P)),
    state: u32(await readBuffer(gpu, stateBuf)),
  };
  for (const b of [L, P, ids, out, rows, stateBuf, raw, bias]) b.destroy();
  return res;
}

/** Asserts a GPU logprob record equals the twin's (sums run in another order: 1e-4 apart at most). */
function assertRecord(got: TokenLogprob, want: TokenLogprob, label: string): void {
  assertClose([got.logprob], [want.logprob], `${label}: logprob`, { atol: 1e-4 });
  assert.deepEqual(got.top.map((t) => t.id), want.top.map((t) => t.id), `${label}: top ids`);
  assertClose(got.top.map((t) => t.logprob), want.top.map((t) => t.logprob), `${label}: top logprobs`, {
    atol: 1e-4,
  });
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
  assert.equal(after[SW + 2], 12);
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
    const { out, state } = await runSample(gpu, logits, specs, false, { seen });
    const W = slotWords(V);
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
      const bits = state.subarray(rows0(s) * W, rows0(s) * W + seenWords(V));
      assert.deepEqual(
        [...bits],
        [...seenBitmap([...seen[s], out[s]], V)],
        `row ${s}: the pick joins the bitmap`,
      );
      const counts = state.subarray(rows0(s) * W + seenWords(V), (rows0(s) + 1) * W);
      assert.ok(counts.every((c) => c === 0), `row ${s}: no presence/frequency penalty, no counting`);
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
    const { out, specs: after } = await runSample(gpu, logits, specs, true, { launches: 2 });
    for (let s = 0; s < S; s++) {
      const row = logits.subarray(s * V, (s + 1) * V);
      assert.equal(out[s], sampleReference(row, specs[s]), `row ${s}, first launch`);
      assert.equal(
        out[S + s],
        sampleReference(row, { ...specs[s], counter: specs[s].counter + 1 }),
        `second launch`,
      );
      assert.equal(after[SW * s + 2], specs[s].counter + 2);
    }
  },
);

gpuTest(
  "sample: presence and frequency penalties subtract from generated ids, after the repetition penalty",
  async (gpu) => {
    let agree = 0;
    let total = 0;
    let changed = 0;
    for (const [S, V, seed] of [[5, 333, 1], [19, 1000, 2], [3, 37, 3], [1, 257, 4]] as const) {
      const logits = randomArray(S * V, 40 + seed, 3);
      const seen: number[][] = [];
      const generated: number[][] = [];
      const specs: GpuSampleSpec[] = Array.from({ length: S }, (_, s) => {
        const row = logits.subarray(s * V, (s + 1) * V);
        let best = 0;
        for (let i = 1; i < V; i++) if (row[i] > row[best]) best = i;
        // The argmax generated twice, ids on both sides of a bitmap word, one id four times; a prompt id too.
        const gen = [best, best, 31 % V, 32 % V, ...Array(4).fill((s * 7 + 5) % V), V - 1];
        generated.push(gen);
        seen.push([...gen, (s * 11 + 3) % V]);
        return {
          dst: s,
          seed: seed * 100 + s,
          counter: s,
          temperature: s % 2 === 0 ? 0 : 0.8,
          topK: [0, 7][s % 2],
          topP: [1, 0.9, 1][s % 3],
          repetitionPenalty: [1, 1.3, 0.8][s % 3],
          presencePenalty: [0.5, -0.7, 1.5, 0, 2][s % 5],
          frequencyPenalty: [0.3, -0.4, 0, 1.2, -2][(s + seed) % 5],
        };
      });
      const { out, state } = await runSample(gpu, logits, specs, false, { seen, generated });
      const W = slotWords(V);
      for (let s = 0; s < S; s++) {
        const spec = specs[s];
        const row = logits.subarray(s * V, (s + 1) * V);
        const penalized = processLogits(row, spec, seen[s], generated[s]);
        const want = sampleReference(penalized, spec);
        const label = `S=${S} V=${V} row ${s}`;
        if (spec.temperature === 0) assert.equal(out[s], want, `greedy ${label}`);
        else assert.ok(keptSet(penalized, spec).has(out[s]), `${label}: ${out[s]} outside the kept set`);
        total++;
        if (want === out[s]) agree++;
        const repeated = processLogits(
          row,
          { ...spec, presencePenalty: 0, frequencyPenalty: 0 },
          seen[s],
          [],
        );
        if (want !== sampleReference(repeated, spec)) changed++;
        const counts = state.subarray(rows0(s) * W + seenWords(V), (rows0(s) + 1) * W);
        const on = spec.presencePenalty !== 0 || spec.frequencyPenalty !== 0;
        const expect = new Uint32Array(V);
        for (const id of generated[s]) expect[id]++;
        if (on) expect[out[s]]++;
        assert.deepEqual([...counts], [...expect], `${label}: the pick is counted only with a penalty on`);
      }
    }
    assert.ok(agree >= total - 2, `only ${agree}/${total} draws equal the reference`);
    assert.ok(changed >= total / 4, `presence/frequency changed only ${changed}/${total} picks`);
  },
);

gpuTest(
  "sample: logprob records hold the raw log-softmax of the pick and the top n, penalties or not",
  async (gpu) => {
    const V = 517;
    const S = 14;
    const logits = randomArray(S * V, 77, 4);
    const generated = Array.from({ length: S }, (_, s) => [s, s, 2 * s + 1, 100 + s]);
    const specs: GpuSampleSpec[] = Array.from({ length: S }, (_, s) => ({
      dst: s,
      seed: 500 + s,
      counter: s,
      temperature: s % 3 === 0 ? 0 : [0.7, 1.3][s % 2],
      topK: [0, 40][s % 2],
      topP: [1, 0.95][s % 2],
      repetitionPenalty: [1, 1.5, 1, 0.6][s % 4],
      presencePenalty: [0, 0, 1, -1][(s >> 1) % 4],
      frequencyPenalty: [0, 0.5][s % 2],
      logprobs: s === S - 1 ? undefined : s % 6,
    }));
    // Planted maxima among the generated ids of penalized greedy rows: the records must read their raw logits back.
    logits[6 * V + 13] = 8; // presence −1 lifts it
    logits[9 * V + 19] = 9; // repetition 1.5 and frequency 0.5 lower it, still the maximum
    const { out, records } = await runSample(gpu, logits, specs, false, { seen: generated, generated });
    const plain = await runSample(gpu, logits, specs.map((s) => ({ ...s, logprobs: undefined })), false, {
      seen: generated,
      generated,
    });
    assert.deepEqual([...out], [...plain.out], "asking for logprobs does not change the picks");
    assert.equal(out[6], 13);
    assert.equal(out[9], 19);
    for (let s = 0; s < S; s++) {
      const n = specs[s].logprobs;
      if (n === undefined) {
        const untouched = records.subarray(s * LOGPROB_WORDS, (s + 1) * LOGPROB_WORDS);
        assert.ok(untouched.every((x) => x === 99999), "no record without logprobs");
        continue;
      }
      const row = logits.subarray(s * V, (s + 1) * V);
      assertRecord(readLogprob(records, s, n, V), logprobsReference(row, out[s], n), `row ${s} (n=${n})`);
    }
  },
);

/** `pairs` with each id's first bias only (a logit bias lists an id once). */
function uniqueIds(pairs: [number, number][]): LogitBias {
  return [...new Map(pairs.reverse()).entries()].reverse();
}

gpuTest(
  "sample: a logit bias is added before the penalties, ±100 forces or forbids an id, each sequence has its own list",
  async (gpu) => {
    let agree = 0;
    let total = 0;
    for (const [S, V, seed] of [[6, 333, 1], [17, 1000, 2], [3, 37, 3], [1, 257, 4]] as const) {
      const logits = randomArray(S * V, 60 + seed, 3);
      const seen: number[][] = [];
      const generated: number[][] = [];
      const kinds: number[] = [];
      const best: number[] = [];
      const specs: GpuSampleSpec[] = Array.from({ length: S }, (_, s) => {
        const row = logits.subarray(s * V, (s + 1) * V);
        let b = 0;
        for (let i = 1; i < V; i++) if (row[i] > row[b]) b = i;
        best.push(b);
        const twice = (s * 5 + 2) % V;
        generated.push([b, twice, twice]);
        seen.push([b, twice, (s * 11 + 3) % V]);
        // 0: no list; 1: small biases (the argmax, both sides of 32, the last id, one past V) while a penalized
        // id without a bias leads; 2: +100 on a penalized id; 3: −100 on the argmax among up to 300 small biases
        // (more than a workgroup's threads).
        const kind = (s + seed) % 4;
        kinds.push(kind);
        if (kind === 1) row[twice] = 8;
        const many = Array.from(
          { length: Math.min(V - 1, 299) },
          (_, j) => [(b + 1 + j * 7) % V, (j % 5) - 2],
        );
        const lists: [number, number][][] = [
          [],
          [[b, -1.5], [31 % V, 2], [32 % V, -0.25], [V - 1, 0.75], [V + 3, 50]].filter(([id]) =>
            id !== twice
          ) as [number, number][],
          [[twice, 100], [b, 3]],
          [[b, -100], ...many as [number, number][]],
        ];
        return {
          dst: s,
          seed: seed * 100 + s,
          counter: s,
          temperature: s % 2 === 0 ? 0 : 0.8,
          topK: [0, 7, 0][s % 3],
          topP: [1, 0.9][s % 2],
          repetitionPenalty: [1, 1.3, 0.8][s % 3],
          presencePenalty: [0, 0.5, -0.7][s % 3],
          frequencyPenalty: [0, 0.3][s % 2],
          logprobs: s % 3 === 2 ? undefined : s % 6,
          logitBias: kind === 0 && s % 2 === 0 ? undefined : uniqueIds(lists[kind]),
        };
      });
      const { out, records } = await runSample(gpu, logits, specs, false, { seen, generated });
      for (let s = 0; s < S; s++) {
        const spec = specs[s];
        const row = logits.subarray(s * V, (s + 1) * V);
        const penalized = processLogits(row, spec, seen[s], generated[s]);
        const want = sampleReference(penalized, spec);
        const label = `S=${S} V=${V} row ${s} (kind ${kinds[s]})`;
        if (spec.temperature === 0) assert.equal(out[s], want, `greedy ${label}`);
        else assert.ok(keptSet(penalized, spec).has(out[s]), `${label}: ${out[s]} outside the kept set`);
        if (kinds[s] === 2) assert.equal(out[s], generated[s][1], `${label}: +100 forces the id`);
        if (kinds[s] === 3) assert.notEqual(out[s], best[s], `${label}: −100 forbids the argmax`);
        total++;
        if (want === out[s]) agree++;
        const n = spec.logprobs;
        // Records score the raw row, whatever the bias and the penalties did (a forced id is penalized too).
        if (n !== undefined) {
          assertRecord(readLogprob(records, s, n, V), logprobsReference(row, out[s], n), `${label} record`);
        }
      }
    }
    assert.ok(agree >= total - 2, `only ${agree}/${total} draws equal the reference`);

    // The order shows where the bias meets the repetition penalty: (−1 + 2) / 2 = 0.5 beats 0.3, while
    // −1 · 2 + 2 = 0 would not.
    const V = 37;
    const logits = new Float32Array(V).fill(-5);
    logits[4] = -1;
    logits[20] = 0.3;
    const spec = {
      dst: 0,
      seed: 0,
      counter: 0,
      temperature: 0,
      topK: 0,
      topP: 1,
      repetitionPenalty: 2,
      logitBias: [[4, 2]] as LogitBias,
    };
    const { out } = await runSample(gpu, logits, [spec], false, { seen: [[4]] });
    assert.equal(out[0], 4);
    const rep = (l: Float32Array) => applyRepetitionPenalty(l, [4], 2);
    assert.equal(sampleReference(rep(applyLogitBias(logits, spec.logitBias)), spec), 4);
    assert.equal(sampleReference(applyLogitBias(rep(logits), spec.logitBias), spec), 20);
  },
);

gpuTest(
  "sample: prompt_logprobs scores each prefill row at its target and skips NO_TARGET rows",
  async (gpu) => {
    const V = 301;
    const R = 9;
    const row0 = 3; // the piece's rows are prefill rows 3..11
    const logits = randomArray(R * V, 12, 3);
    const targets = Uint32Array.from({ length: row0 + R + 2 }, (_, r) => (r * 37) % V);
    targets[row0 + 4] = NO_TARGET;
    targets[row0 + R - 1] = NO_TARGET;
    const lpBase = 6;
    const dev = gpu.device;
    const L = createBuffer(dev, "logits", logits);
    const T = createBuffer(dev, "targets", targets);
    const outLen = lpBase + (row0 + R) * LOGPROB_WORDS;
    const out = createBuffer(dev, "out", new Uint32Array(outLen).fill(99999));
    const topN = 4;
    const batch = new CommandBatch(gpu, "prompt logprobs test");
    promptLogprobs(batch, { logits: L, targets: T, out, R, V, row0, lpBase, topN });
    batch.submit();
    const all = u32(await readBuffer(gpu, out));
    for (const b of [L, T, out]) b.destroy();
    const records = all.subarray(lpBase);
    assert.ok(all.subarray(0, lpBase + row0 * LOGPROB_WORDS).every((x) => x === 99999), "rows before row0");
    for (let r = 0; r < R; r++) {
      const target = targets[row0 + r];
      if (target === NO_TARGET) {
        const rec = records.subarray((row0 + r) * LOGPROB_WORDS, (row0 + r + 1) * LOGPROB_WORDS);
        assert.ok(rec.every((x) => x === 99999), `row ${r} has no target: left alone`);
        continue;
      }
      const want = logprobsReference(logits.subarray(r * V, (r + 1) * V), target, topN);
      assertRecord(readLogprob(records, row0 + r, topN, V), want, `row ${r}`);
    }
  },
);
