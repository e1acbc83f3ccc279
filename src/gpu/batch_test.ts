import assert from "node:assert/strict";
import { closeGpu, CommandBatch, createBuffer, openGpu, Profiler, readBuffer } from "./mod.ts";
import { gpuTest } from "./testing.ts";
import { CACHE_TTL_SUBMITS } from "./pipelines.ts";
import { MATMUL, matmul } from "../kernels/matmul.ts";

gpuTest("a batch records many dispatches in one pass and reads scalars back asynchronously", async (gpu) => {
  const a = createBuffer(gpu.device, "a", new Float32Array([1, 2, 3, 4]));
  const b = createBuffer(gpu.device, "b", new Float32Array([1, 0, 0, 1]));
  const c = createBuffer(gpu.device, "c", 16);
  const batch = new CommandBatch(gpu, "batch test");
  for (let i = 0; i < 5; i++) matmul(batch, { a, b, c, M: 2, K: 2, N: 2, accumulate: true });
  const pending = batch.read(c, 0, 16);
  batch.submit();
  assert.equal(batch.passes, 1);
  assert.equal(batch.dispatches, 5);
  assert.deepEqual([...new Float32Array(await pending)], [5, 10, 15, 20]);
  assert.throws(() => batch.submit(), /twice/);
});

gpuTest("pipelines are cached by kernel, entry point and constants", (gpu) => {
  const p1 = gpu.pipelines.get(MATMUL, "main", { TRANS_A: true, WX: 8, WY: 8 });
  const p2 = gpu.pipelines.get(MATMUL, "main", { WY: 8, WX: 8, TRANS_A: true });
  const p3 = gpu.pipelines.get(MATMUL, "main", { TRANS_A: false, WX: 8, WY: 8 });
  assert.equal(p1, p2);
  assert.notEqual(p1, p3);
  assert.match(p1.label, /^matmul:main:/);
});

gpuTest("GPU validation errors surface with the label of the batch involved", async (gpu) => {
  const small = createBuffer(gpu.device, "too-small-buffer", 4, GPUBufferUsage.COPY_SRC);
  const dst = createBuffer(gpu.device, "dst", 64);
  const batch = new CommandBatch(gpu, "bad copy batch");
  batch.copy(small, 0, dst, 0, 64);
  batch.submit();
  await gpu.device.queue.onSubmittedWorkDone();
  await new Promise((r) => setTimeout(r, 20));
  assert.throws(() => gpu.check(), /in 'batch 'bad copy batch'': .*overrunning/);
  gpu.check(); // each error is reported once
});

gpuTest("the profiler attributes GPU time to each dispatch label", { timestamps: true }, async (gpu) => {
  const profiler = new Profiler(gpu, 16);
  const x = createBuffer(gpu.device, "x", 64 * 64 * 4);
  const batch = new CommandBatch(gpu, "profiled", profiler);
  matmul(batch, { a: x, b: x, c: createBuffer(gpu.device, "y", 64 * 64 * 4), M: 64, K: 64, N: 64 });
  batch.submit();
  const totals = await profiler.totals();
  assert.equal(totals.size, 1);
  const [[label, t]] = [...totals];
  assert.match(label, /^matmul/);
  assert.equal(t.count, 1);
  assert.ok(t.ms >= 0);
  await readBuffer(gpu, x, 4);
});

gpuTest("a profiler that runs out of slots profiles the first dispatches and the batch still submits", {
  timestamps: true,
}, async (gpu) => {
  const profiler = new Profiler(gpu, 2);
  const x = createBuffer(gpu.device, "x", 16 * 16 * 4);
  const y = createBuffer(gpu.device, "y", 16 * 16 * 4);
  const batch = new CommandBatch(gpu, "over-profiled", profiler);
  for (let i = 0; i < 5; i++) matmul(batch, { a: x, b: x, c: y, M: 16, K: 16, N: 16, accumulate: true });
  batch.submit();
  const totals = await profiler.totals();
  assert.equal([...totals.values()].reduce((n, t) => n + t.count, 0), 2);
  gpu.check(); // resolving the queries did not meet an open pass
});

gpuTest("bind groups and uniforms are reused across batches and dropped once unused", async (gpu) => {
  const a = createBuffer(gpu.device, "a", new Float32Array([1, 2, 3, 4]));
  const c = createBuffer(gpu.device, "c", 16);
  const step = (alpha: number) => {
    const batch = new CommandBatch(gpu, "cache test");
    matmul(batch, { a, b: a, c, M: 2, K: 2, N: 2, alpha });
    const read = batch.read(c, 0, 16);
    batch.submit();
    return read;
  };
  await step(1);
  const first = gpu.pipelines.cached;
  for (let i = 0; i < 5; i++) await step(1);
  assert.deepEqual(gpu.pipelines.cached, first); // same shape, same buffers: nothing new
  assert.deepEqual([...new Float32Array(await step(2))], [14, 20, 30, 44]); // new alpha: new uniform, right result
  assert.equal(gpu.pipelines.cached.uniforms, first.uniforms + 1);
  assert.equal(gpu.pipelines.uniform(new Uint32Array([7])), gpu.pipelines.uniform(new Uint32Array([7, 0])));
  for (let i = 0; i < 2 * CACHE_TTL_SUBMITS; i++) gpu.pipelines.tick();
  assert.deepEqual(gpu.pipelines.cached, { bindGroups: 0, uniforms: 0 });
  assert.deepEqual([...new Float32Array(await step(1))], [7, 10, 15, 22]); // recreated after the sweep
});

gpuTest("closeGpu lets submitted work finish, then destroys the device and its pooled buffers", async () => {
  const own = await openGpu("auto");
  const n = 64;
  const a = createBuffer(own.device, "a", new Float32Array(n * n).fill(1));
  const c = own.pool.acquire(n * n * 4, GPUBufferUsage.STORAGE, "c");
  const batch = new CommandBatch(own, "work left running");
  for (let i = 0; i < 8; i++) matmul(batch, { a, b: a, c, M: n, K: n, N: n });
  batch.submit();
  await closeGpu(own);
  assert.equal((await own.device.lost).reason, "destroyed");
  await closeGpu(own); // closing twice is harmless
});
