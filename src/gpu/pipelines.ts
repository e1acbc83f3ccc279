/**
 * Compute pipelines cached by (kernel, entry point, override constants), and the per-step objects around them:
 * bind groups cached by (pipeline, buffer ranges) and uniforms cached by content, so a training step that binds the
 * same buffers every step costs a few dispatch encodes on the host. WGSL lives in kernels/*.wgsl and reaches here as
 * imported text, so a compiled binary embeds it; specialisation uses `override` constants, never string templates.
 */
import { debugLevel } from "../log.ts";
import { checkBindingSize } from "./limits.ts";

/** A WGSL module: its name (for labels and cache keys) and source text. */
export interface Kernel {
  name: string;
  code: string;
}

/** Override constants of one pipeline. */
export type Constants = Record<string, number | boolean>;

/** Cached bind groups and uniforms unused for this many submits are dropped (uniform buffers destroyed). */
export const CACHE_TTL_SUBMITS = 64;

interface Cached<T> {
  value: T;
  used: number;
}

export class PipelineCache {
  #modules = new Map<string, GPUShaderModule>();
  #pipelines = new Map<string, GPUComputePipeline>();
  #ids = new WeakMap<object, number>();
  #nextId = 1;
  #groups = new Map<string, Cached<GPUBindGroup>>();
  #uniforms = new Map<string, Cached<GPUBuffer>>();
  #generation = 0;

  constructor(
    readonly device: GPUDevice,
    readonly watch: <T>(label: string, fn: () => T) => T = (_label, fn) => fn(),
  ) {}

  /** The shader module of a kernel, compiled once. */
  module(kernel: Kernel): GPUShaderModule {
    let m = this.#modules.get(kernel.name);
    if (!m) {
      m = this.watch(
        `shader ${kernel.name}`,
        () => this.device.createShaderModule({ code: kernel.code, label: kernel.name }),
      );
      this.#modules.set(kernel.name, m);
    }
    return m;
  }

  /** The pipeline for (kernel, entry point, constants), created on first use. */
  get(kernel: Kernel, entryPoint: string, constants: Constants = {}): GPUComputePipeline {
    const keys = Object.keys(constants).sort();
    const spec = keys.map((k) => `${k}=${Number(constants[k])}`).join(",");
    const key = `${kernel.name}:${entryPoint}:${spec}`;
    let p = this.#pipelines.get(key);
    if (!p) {
      const numeric: Record<string, number> = {};
      for (const k of keys) numeric[k] = Number(constants[k]);
      if (debugLevel() >= 3) console.error(`[gpu] pipeline ${key}`);
      const module = this.module(kernel);
      p = this.watch(`pipeline ${key}`, () =>
        this.device.createComputePipeline({
          label: key,
          layout: "auto",
          compute: { module, entryPoint, constants: numeric },
        }));
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** Number of pipelines created so far (for tests and debug output). */
  get size(): number {
    return this.#pipelines.size;
  }

  /** Counts of cached bind groups and uniform buffers (for tests and debug output). */
  get cached(): { bindGroups: number; uniforms: number } {
    return { bindGroups: this.#groups.size, uniforms: this.#uniforms.size };
  }

  #id(o: object): number {
    let id = this.#ids.get(o);
    if (id === undefined) this.#ids.set(o, id = this.#nextId++);
    return id;
  }

  /**
   * The bind group of `resources` (bindings 0..n-1 of group 0; `undefined` skips a binding number) for `pipeline`,
   * created once per distinct (pipeline, buffer, offset, size) list.
   */
  bindGroup(pipeline: GPUComputePipeline, resources: (Binding | undefined)[]): GPUBindGroup {
    let key = String(this.#id(pipeline));
    for (const r of resources) {
      if (r === undefined) key += "|-";
      else if (r instanceof GPUBuffer) key += `|${this.#id(r)}`;
      else key += `|${this.#id(r.buffer)}:${r.offset ?? 0}:${r.size ?? ""}`;
    }
    let hit = this.#groups.get(key);
    if (!hit) {
      hit = { value: bindGroup(this.device, pipeline, resources), used: this.#generation };
      this.#groups.set(key, hit);
    }
    hit.used = this.#generation;
    return hit.value;
  }

  /**
   * A uniform buffer holding `data` (padded to 16 bytes), shared by every dispatch that passes equal bytes and
   * never written again — so bind groups over it stay valid from step to step.
   */
  uniform(data: ArrayBufferView): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const bytes = new Uint8Array(size);
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const key = new Uint32Array(bytes.buffer).join(",");
    let hit = this.#uniforms.get(key);
    if (!hit) {
      const buffer = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: "uniform",
      });
      this.device.queue.writeBuffer(buffer, 0, bytes);
      hit = { value: buffer, used: this.#generation };
      this.#uniforms.set(key, hit);
    }
    hit.used = this.#generation;
    return hit.value;
  }

  /**
   * Marks one submit; every CACHE_TTL_SUBMITS submits, drops bind groups and uniforms not used since the previous
   * sweep (a step-varying uniform, e.g. the learning rate, lives at most two sweeps).
   */
  tick(): void {
    this.#generation++;
    if (this.#generation % CACHE_TTL_SUBMITS !== 0) return;
    const stale = this.#generation - CACHE_TTL_SUBMITS;
    for (const [k, g] of this.#groups) if (g.used < stale) this.#groups.delete(k);
    for (const [k, u] of this.#uniforms) {
      if (u.used < stale) {
        this.#uniforms.delete(k);
        u.value.destroy(); // WebGPU defers the free until submitted work using it is done
      }
    }
  }
}

/** A binding: a whole buffer or a byte range of one. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** The bytes a binding covers: the whole buffer, or the range's size (to the buffer's end when unsized). */
export function bindingBytes(b: Binding): number {
  return b instanceof GPUBuffer ? b.size : (b.size ?? b.buffer.size - (b.offset ?? 0));
}

/** Binds `resources` to bindings 0..n-1 of group 0 of `pipeline` (an `undefined` entry leaves that number out). */
export function bindGroup(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  resources: (Binding | undefined)[],
  label?: string,
): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [];
  resources.forEach((r, binding) => {
    if (!r) return;
    checkBindingSize(
      device,
      r instanceof GPUBuffer ? r : r.buffer,
      bindingBytes(r),
      `'${label ?? pipeline.label}'`,
    );
    entries.push({ binding, resource: r instanceof GPUBuffer ? { buffer: r } : r });
  });
  return device.createBindGroup({
    label: label ?? pipeline.label,
    layout: pipeline.getBindGroupLayout(0),
    entries,
  });
}
