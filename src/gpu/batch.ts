/**
 * Command batching: a whole training step (or any burst of work) records its dispatches into one command encoder
 * and as few compute passes as possible, then submits once. Readback is asynchronous: `read()` returns a promise
 * that settles after the GPU finishes, so a trainer can look at a few scalars every N steps without stalling
 * (each mapAsync costs ≥ 10 ms in Deno, so never await one per step).
 */
import { debugLevel } from "../log.ts";
import type { Gpu } from "./device.ts";
import type { Binding, Constants, Kernel } from "./pipelines.ts";

const MAP_READ = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;

interface PendingRead {
  staging: GPUBuffer;
  bytes: number;
  resolve: (data: ArrayBuffer) => void;
  reject: (err: unknown) => void;
}

/** Collects per-dispatch GPU times through timestamp queries (one pass per dispatch while profiling). */
export class Profiler {
  readonly querySet: GPUQuerySet;
  #labels: string[] = [];
  #totals = new Map<string, { ms: number; count: number }>();
  #pending: Promise<void>[] = [];

  constructor(readonly gpu: Gpu, readonly capacity = 2048) {
    if (!gpu.hasTimestamps) throw new Error("Cannot profile: the adapter has no timestamp-query feature");
    // WebGPU caps a query set at 4096 queries: two per profiled dispatch.
    if (capacity > 2048) {
      throw new Error(`Cannot profile ${capacity} dispatches per batch: the limit is 2048`);
    }
    this.querySet = gpu.device.createQuerySet({ type: "timestamp", count: capacity * 2, label: "profiler" });
  }

  /** Reserves the query pair of the next dispatch; undefined when the set is full for this batch. */
  next(label: string): GPUComputePassTimestampWrites | undefined {
    const i = this.#labels.length;
    if (i >= this.capacity) return undefined;
    this.#labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Records the resolve of this batch's queries; called by CommandBatch.submit. */
  resolve(batch: CommandBatch): void {
    const n = this.#labels.length;
    if (n === 0) return;
    const labels = this.#labels;
    this.#labels = [];
    const device = this.gpu.device;
    const resolved = device.createBuffer({
      size: n * 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: "profiler resolve",
    });
    batch.encoder.resolveQuerySet(this.querySet, 0, n * 2, resolved, 0);
    const done = batch.read(resolved, 0, n * 16).then((data) => {
      const ts = new BigUint64Array(data);
      for (let i = 0; i < n; i++) {
        const ms = Number(ts[2 * i + 1] - ts[2 * i]) / 1e6;
        const t = this.#totals.get(labels[i]) ?? { ms: 0, count: 0 };
        t.ms += ms > 0 && ms < 1e6 ? ms : 0;
        t.count++;
        this.#totals.set(labels[i], t);
      }
      resolved.destroy();
    });
    done.catch(() => {}); // surfaced by totals(); not an unhandled rejection meanwhile
    this.#pending.push(done);
  }

  /** Total GPU milliseconds and dispatch counts per label, after all profiled batches have finished. */
  async totals(): Promise<Map<string, { ms: number; count: number }>> {
    await Promise.all(this.#pending);
    this.#pending = [];
    return new Map(this.#totals);
  }

  /** Forgets the totals collected so far (e.g. after warm-up steps). */
  async reset(): Promise<void> {
    await Promise.all(this.#pending);
    this.#pending = [];
    this.#totals.clear();
  }
}

/** A dispatch grid with defaults filled in; null when empty (nothing to run); throws past the device's limit. */
export function checkedGrid(
  gpu: Gpu,
  pipeline: GPUComputePipeline,
  workgroups: [number, number?, number?],
): [number, number, number] | null {
  const [x, y = 1, z = 1] = workgroups;
  if (x === 0 || y === 0 || z === 0) return null;
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (x > max || y > max || z > max) {
    throw new Error(
      `Cannot dispatch ${pipeline.label}: grid ${x}×${y}×${z} exceeds the limit ${max} per dimension`,
    );
  }
  return [x, y, z];
}

/** One command encoder's worth of work, submitted once. */
export class CommandBatch {
  readonly encoder: GPUCommandEncoder;
  #pass: GPUComputePassEncoder | undefined;
  #reads: PendingRead[] = [];
  #submitted = false;
  dispatches = 0;
  passes = 0;

  constructor(readonly gpu: Gpu, readonly label: string, readonly profiler?: Profiler) {
    this.encoder = gpu.device.createCommandEncoder({ label });
  }

  /**
   * The uniform binding of `data`: a buffer shared by equal bytes across batches (src/gpu/pipelines.ts), so the
   * bind groups over it are reused from step to step.
   */
  uniform(data: ArrayBufferView): Binding {
    return this.gpu.pipelines.uniform(data);
  }

  /** Records one dispatch of `pipeline` with `bindings` at group 0 (bind groups cached per binding list). */
  dispatch(
    pipeline: GPUComputePipeline,
    bindings: (Binding | undefined)[] | GPUBindGroup,
    workgroups: [number, number?, number?],
  ): void {
    const grid = checkedGrid(this.gpu, pipeline, workgroups);
    if (!grid) return;
    const [x, y, z] = grid;
    const group = bindings instanceof GPUBindGroup
      ? bindings
      : this.gpu.pipelines.bindGroup(pipeline, bindings);
    const timestampWrites = this.profiler?.next(pipeline.label);
    if (timestampWrites) this.endPass();
    if (!this.#pass) {
      this.#pass = this.encoder.beginComputePass({
        label: `${this.label} pass ${this.passes}`,
        timestampWrites,
      });
      this.passes++;
    }
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, group);
    this.#pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    if (debugLevel() >= 2) console.error(`[gpu] ${this.label}: ${pipeline.label} ${x}×${y}×${z}`);
    if (timestampWrites) this.endPass();
  }

  /** Shorthand: the cached pipeline for (kernel, entry, constants), dispatched with `bindings`. */
  run(
    kernel: Kernel,
    entry: string,
    constants: Constants,
    bindings: (Binding | undefined)[],
    workgroups: [number, number?, number?],
  ): void {
    this.dispatch(this.gpu.pipelines.get(kernel, entry, constants), bindings, workgroups);
  }

  /** Ends the open compute pass, if any (copies and clears need it closed). */
  endPass(): void {
    this.#pass?.end();
    this.#pass = undefined;
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Records a zero fill of `bytes` bytes (whole buffer by default). */
  clear(buffer: GPUBuffer, offset = 0, bytes?: number): void {
    this.endPass();
    this.encoder.clearBuffer(buffer, offset, bytes);
  }

  /**
   * Records a copy of `bytes` bytes of `src` into a staging buffer; the promise settles with the data once the
   * batch has been submitted and the GPU has finished it. Never await it inside a step loop.
   */
  read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    if (this.#submitted) throw new Error(`Cannot read in batch '${this.label}': it was already submitted`);
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.gpu.pool.acquire(size, MAP_READ, `${this.label} readback`);
    this.copy(src, offset, staging, 0, size);
    return new Promise((resolve, reject) => this.#reads.push({ staging, bytes, resolve, reject }));
  }

  /** Finishes the encoder and submits it; starts mapping every pending read. */
  submit(): void {
    if (this.#submitted) throw new Error(`Cannot submit batch '${this.label}' twice`);
    // The pass first: a profiler that ran out of query slots leaves later dispatches in a shared open pass, and
    // resolving queries needs the encoder free.
    this.endPass();
    this.profiler?.resolve(this);
    this.#submitted = true;
    const { device, pool } = this.gpu;
    this.gpu.watch(
      `batch '${this.label}'`,
      () => device.queue.submit([this.encoder.finish({ label: this.label })]),
    );
    this.gpu.pipelines.tick();
    for (const r of this.#reads) {
      r.staging.mapAsync(GPUMapMode.READ).then(() => {
        const data = r.staging.getMappedRange().slice(0, r.bytes);
        r.staging.unmap();
        pool.release(r.staging);
        this.gpu.check();
        r.resolve(data);
      }).catch((err) => {
        try {
          this.gpu.check();
        } catch (gpuErr) {
          return r.reject(gpuErr);
        }
        r.reject(err);
      });
    }
  }
}

/** Convenience for tests and one-off work: copies `bytes` of `buffer` back (one ≥ 10 ms round trip). */
export async function readBuffer(
  gpu: Gpu,
  buffer: GPUBuffer,
  bytes = buffer.size,
  offset = 0,
): Promise<ArrayBuffer> {
  const batch = new CommandBatch(gpu, `read ${buffer.label}`);
  const done = batch.read(buffer, offset, bytes);
  batch.submit();
  return await done;
}

/** Waits until the GPU has finished everything submitted so far (≥ 10 ms in Deno: never per step). */
export async function drain(gpu: Gpu): Promise<void> {
  await gpu.device.queue.onSubmittedWorkDone();
  gpu.check();
}
