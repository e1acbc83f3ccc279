import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { attendReference, type CacheRow, kvAppendReference, ropeRowsReference } from "../reference/decode.ts";
import { attendCached, gatherRows, kvAppend, ropeRows } from "./decode.ts";

const packRows = (rows: CacheRow[]) => Uint32Array.from(rows.flatMap((r) => [r.slot, r.pos]));
const f32 = (data: ArrayBuffer) => new Float32Array(data);

gpuTest("decode: rope_rows matches the reference at scattered positions", async (gpu) => {
  for (const [H, HS] of [[1, 2], [3, 16], [2, 48], [1, 128]]) {
    const rows = [{ slot: 0, pos: 0 }, { slot: 3, pos: 9 }, { slot: 1, pos: 1000 }, { slot: 0, pos: 33 }];
    const x = randomArray(rows.length * H * HS, H * HS);
    const X = createBuffer(gpu.device, "x", x);
    const Rw = createBuffer(gpu.device, "rows", packRows(rows));
    const batch = new CommandBatch(gpu, "rope rows test");
    ropeRows(batch, { x: X, rows: Rw, R: rows.length, H, HS, theta: 10000 });
    batch.submit();
    assertClose(f32(await readBuffer(gpu, X)), ropeRowsReference(x, rows, H, HS, 10000), `H=${H} HS=${HS}`, {
      rtol: 1e-4,
      atol: 2e-5,
    });
    X.destroy();
    Rw.destroy();
  }
});

gpuTest(
  "decode: kv_append then attend equal the reference over odd shapes, slots and positions",
  async (gpu) => {
    // [NH, KVH, HS, TMAX, slots]
    for (
      const [NH, KVH, HS, TMAX, slots] of [[1, 1, 2, 5, 1], [4, 2, 6, 33, 3], [6, 3, 16, 70, 2], [
        2,
        2,
        64,
        130,
        2,
      ]]
    ) {
      const W = KVH * HS;
      const dev = gpu.device;
      const kc = randomArray(slots * TMAX * W, 11, 0.5);
      const vc = randomArray(slots * TMAX * W, 12, 0.5);
      // A prefill-like block for one slot and decode rows of the others (one past TMAX: clamped).
      const rows: CacheRow[] = [
        ...Array.from({ length: Math.min(5, TMAX) }, (_, t) => ({ slot: 0, pos: t })),
        ...Array.from({ length: slots - 1 }, (_, s) => ({ slot: s + 1, pos: (7 * (s + 1)) % TMAX })),
        { slot: slots - 1, pos: TMAX + 3 },
      ];
      const R = rows.length;
      const k = randomArray(R * W, 13);
      const v = randomArray(R * W, 14);
      const q = randomArray(R * NH * HS, 15);
      const bufs = {
        k: createBuffer(dev, "k", k),
        v: createBuffer(dev, "v", v),
        q: createBuffer(dev, "q", q),
        kc: createBuffer(dev, "kc", kc),
        vc: createBuffer(dev, "vc", vc),
        rows: createBuffer(dev, "rows", packRows(rows)),
        out: createBuffer(dev, "out", R * NH * HS * 4),
      };
      const batch = new CommandBatch(gpu, "attend test");
      kvAppend(batch, { ...bufs, R, W, TMAX });
      attendCached(batch, { ...bufs, R, NH, KVH, HS, TMAX });
      batch.submit();
      kvAppendReference(k, v, kc, vc, rows, W, TMAX);
      const label = `NH=${NH} KVH=${KVH} HS=${HS} TMAX=${TMAX}`;
      assertClose(f32(await readBuffer(gpu, bufs.kc)), kc, `${label} k cache`, { rtol: 0, atol: 0 });
      assertClose(f32(await readBuffer(gpu, bufs.vc)), vc, `${label} v cache`, { rtol: 0, atol: 0 });
      const want = attendReference(q, kc, vc, rows, NH, KVH, HS, TMAX);
      assertClose(f32(await readBuffer(gpu, bufs.out)), want, label, { rtol: 1e-4, atol: 1e-5 });
      for (const b of Object.values(bufs)) b.destroy();
    }
  },
);

gpuTest("decode: gather picks rows", async (gpu) => {
  const C = 5;
  const src = randomArray(6 * C, 1);
  const S = createBuffer(gpu.device, "src", src);
  const P = createBuffer(gpu.device, "pick", Uint32Array.of(4, 0, 4));
  const D = createBuffer(gpu.device, "dst", 3 * C * 4);
  const batch = new CommandBatch(gpu, "gather test");
  gatherRows(batch, { src: S, pick: P, dst: D, S: 3, C });
  batch.submit();
  const got = f32(await readBuffer(gpu, D));
  assert.deepEqual([...got], [...src.subarray(20, 25), ...src.subarray(0, 5), ...src.subarray(20, 25)]);
});
