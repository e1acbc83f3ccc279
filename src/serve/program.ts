/**
 * A replayable dispatch list: kernel launchers run once against a capturing batch that keeps each dispatch's
 * pipeline, bind group and grid, with uniforms of its own (never the shared content cache, whose sweep could
 * destroy them under a held bind group). Replaying a decode step is then three encoder calls per dispatch, no
 * hashing. Not a command buffer (WebGPU's are single-use): a chunk still encodes its steps each time.
 */
import { bindGroup, type Binding, checkedGrid, CommandBatch, type Gpu } from "../gpu/mod.ts";

interface Op {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  grid: [number, number, number];
}

/** Records dispatches instead of encoding them; anything that is not a dispatch cannot be replayed. */
class CapturingBatch extends CommandBatch {
  ops: Op[] = [];
  uniforms = new Map<string, GPUBuffer>();

  override uniform(data: ArrayBufferView): Binding {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const bytes = new Uint8Array(size);
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const key = new Uint32Array(bytes.buffer).join(",");
    let buffer = this.uniforms.get(key);
    if (!buffer) {
      buffer = this.gpu.device.createBuffer({
        size,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: `${this.label} uniform`,
      });
      this.gpu.device.queue.writeBuffer(buffer, 0, bytes);
      this.uniforms.set(key, buffer);
    }
    return buffer;
  }

  override dispatch(
    pipeline: GPUComputePipeline,
    bindings: (Binding | undefined)[] | GPUBindGroup,
    workgroups: [number, number?, number?],
  ): void {
    const grid = checkedGrid(this.gpu, pipeline, workgroups);
    if (!grid) return;
    const group = bindings instanceof GPUBindGroup
      ? bindings
      : bindGroup(this.gpu.device, pipeline, bindings, `${this.label} ${pipeline.label}`);
    this.ops.push({ pipeline, group, grid });
  }

  override copy(): void {
    throw new Error(`Cannot record a buffer copy into the replayable program '${this.label}'`);
  }

  override clear(): void {
    throw new Error(`Cannot record a buffer clear into the replayable program '${this.label}'`);
  }

  override read(): Promise<ArrayBuffer> {
    throw new Error(`Cannot record a readback into the replayable program '${this.label}'`);
  }

  override submit(): void {
    throw new Error(`Cannot submit the replayable program '${this.label}': replay it into a pass`);
  }
}

/** Dispatches recorded once, replayed into any number of compute passes. */
export class DispatchProgram {
  #ops: Op[];
  #uniforms: GPUBuffer[];

  private constructor(ops: Op[], uniforms: GPUBuffer[]) {
    this.#ops = ops;
    this.#uniforms = uniforms;
  }

  /** Runs `record` against a capturing batch: its dispatches become the program. */
  static record(gpu: Gpu, label: string, record: (batch: CommandBatch) => void): DispatchProgram {
    const batch = new CapturingBatch(gpu, label);
    try {
      record(batch);
    } catch (err) {
      for (const u of batch.uniforms.values()) u.destroy();
      throw err;
    }
    return new DispatchProgram(batch.ops, [...batch.uniforms.values()]);
  }

  /** Dispatches per replay. */
  get dispatches(): number {
    return this.#ops.length;
  }

  /** Encodes every dispatch into `pass`, in recorded order. */
  encode(pass: GPUComputePassEncoder): void {
    let last: GPUComputePipeline | undefined;
    for (const op of this.#ops) {
      if (op.pipeline !== last) pass.setPipeline(last = op.pipeline);
      pass.setBindGroup(0, op.group);
      pass.dispatchWorkgroups(op.grid[0], op.grid[1], op.grid[2]);
    }
  }

  /** Frees the program's uniform buffers (WebGPU defers it past submitted work). */
  destroy(): void {
    for (const u of this.#uniforms) u.destroy();
    this.#uniforms = [];
    this.#ops = [];
  }
}
