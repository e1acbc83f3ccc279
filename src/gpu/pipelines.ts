/**
 * Compute pipelines cached by (kernel, entry point, override constants). WGSL lives in kernels/*.wgsl and reaches
 * here as imported text, so a compiled binary embeds it; specialisation uses `override` constants, never string
 * templates.
 */
import { debugLevel } from "../cli/output.ts";

/** A WGSL module: its name (for labels and cache keys) and source text. */
export interface Kernel {
  name: string;
  code: string;
}

/** Override constants of one pipeline. */
export type Constants = Record<string, number | boolean>;

export class PipelineCache {
  #modules = new Map<string, GPUShaderModule>();
  #pipelines = new Map<string, GPUComputePipeline>();

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
}

/** A binding: a whole buffer or a byte range of one. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** Binds `resources` to bindings 0..n-1 of group 0 of `pipeline`. */
export function bindGroup(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  resources: Binding[],
  label?: string,
): GPUBindGroup {
  return device.createBindGroup({
    label: label ?? pipeline.label,
    layout: pipeline.getBindGroupLayout(0),
    entries: resources.map((r, binding) => ({
      binding,
      resource: r instanceof GPUBuffer ? { buffer: r } : r,
    })),
  });
}
