import assert from "node:assert/strict";
import { BatchSampler, EvalSampler } from "./sampler.ts";

const tokens = Uint16Array.from({ length: 1000 }, (_, i) => i);

Deno.test("training batches are (B, T+1) contiguous windows at seeded offsets", () => {
  const s = new BatchSampler(tokens, { batchSize: 4, seqLen: 16, seed: 42 });
  const b = s.next();
  assert.equal(b.length, 4 * 17);
  for (let r = 0; r < 4; r++) {
    const row = b.subarray(r * 17, (r + 1) * 17);
    for (let t = 1; t < 17; t++) assert.equal(row[t], row[0] + t);
    assert.ok(row[16] < 1000);
  }
  const again = new BatchSampler(tokens, { batchSize: 4, seqLen: 16, seed: 42 }).next();
  assert.deepEqual(again, b);
  assert.notDeepEqual(new BatchSampler(tokens, { batchSize: 4, seqLen: 16, seed: 43 }).next(), b);
});

Deno.test("offsets cover the whole range, including the last window", () => {
  const s = new BatchSampler(Uint32Array.from({ length: 20 }, (_, i) => i), {
    batchSize: 64,
    seqLen: 15,
    seed: 1,
  });
  const starts = new Set<number>();
  for (let k = 0; k < 10; k++) {
    const b = s.next();
    for (let r = 0; r < 64; r++) starts.add(b[r * 16]);
  }
  assert.deepEqual([...starts].sort((a, b) => a - b), [0, 1, 2, 3, 4]);
});

Deno.test("a restored state continues the same stream (resume)", () => {
  const a = new BatchSampler(tokens, { batchSize: 3, seqLen: 8, seed: 7 });
  for (let i = 0; i < 5; i++) a.next();
  const saved = JSON.parse(JSON.stringify(a.state()));
  assert.equal(saved.step, 5);
  const expected = [a.next(), a.next()];
  const b = new BatchSampler(tokens, { batchSize: 3, seqLen: 8, seed: 999, state: saved });
  assert.deepEqual([b.next(), b.next()], expected);
  assert.equal(b.state().step, 7);
});

Deno.test("validation batches are fixed consecutive windows", () => {
  const e = new EvalSampler(tokens, { batchSize: 4, seqLen: 100 });
  assert.equal(e.windows, 9);
  assert.equal(e.batchesPerPass, 3);
  const b0 = e.batch(0);
  assert.deepEqual([b0[0], b0[101], b0[202], b0[303]], [0, 100, 200, 300]);
  assert.equal(b0[100], 100);
  assert.deepEqual(e.batch(2).subarray(0, 1), Uint32Array.of(800)); // window 8
  assert.deepEqual(e.batch(2).subarray(101, 102), Uint32Array.of(0)); // wraps to window 0
  assert.deepEqual(e.batch(1), e.batch(1));
});

Deno.test("a corpus shorter than one window is refused", () => {
  assert.throws(
    () => new BatchSampler(tokens.subarray(0, 16), { batchSize: 1, seqLen: 16, seed: 1 }),
    /fewer than one window of 17/,
  );
  assert.throws(() => new EvalSampler(tokens.subarray(0, 5), { batchSize: 1, seqLen: 16 }), RangeError);
  new BatchSampler(tokens.subarray(0, 17), { batchSize: 1, seqLen: 16, seed: 1 }).next();
});
