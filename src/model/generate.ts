/**
 * Story generation without a KV cache: each new token reruns the forward pass over the (causal) window and reads
 * one row of logits back. Slow by design and kept as the oracle the KV-cache engine (src/serve) is tested against;
 * the trainer's samples, `generate` and `serve` all run on src/serve.
 */
import type { Config } from "../config/mod.ts";
import { makeRng } from "../data/mod.ts";
import { CommandBatch, type Gpu } from "../gpu/mod.ts";
import { Engine } from "./engine.ts";

/** Sampling options; temperature 0 means greedy. */
export interface SamplingOptions {
  maxTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Token ids that end generation (e.g. `<|endoftext|>`). */
  stopIds?: number[];
}

/** Picks the next token from one row of logits. */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, uniform: () => number): number {
  if (!(opts.temperature > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  const k = Math.min(order.length, opts.topK && opts.topK > 0 ? opts.topK : order.length);
  const top = order.slice(0, k);
  const max = logits[top[0]];
  const weights = top.map((i) => Math.exp((logits[i] - max) / opts.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let keep = top.length;
  if (opts.topP !== undefined && opts.topP < 1) {
    let mass = 0;
    for (let i = 0; i < top.length; i++) {
      mass += weights[i] / total;
      if (mass >= opts.topP) {
        keep = i + 1;
        break;
      }
    }
  }
  const kept = weights.slice(0, keep);
  const keptTotal = kept.reduce((a, b) => a + b, 0);
  let r = uniform() * keptTotal;
  for (let i = 0; i < keep; i++) {
    r -= kept[i];
    if (r <= 0) return top[i];
  }
  return top[keep - 1];
}

/** Generates up to maxTokens after `prompt`; `onToken` sees each new id as it comes. */
export class Generator {
  readonly engine: Engine;

  constructor(readonly gpu: Gpu, config: Config, params: GPUBuffer) {
    this.engine = new Engine(gpu, config, { batchSize: 1, training: false, params });
  }

  async generate(prompt: number[], opts: SamplingOptions, onToken?: (id: number) => void): Promise<number[]> {
    const T = this.engine.T;
    const V = this.engine.dims.V;
    const uniform = makeRng(opts.seed ?? 0);
    const ids = prompt.length ? [...prompt] : [0];
    const out: number[] = [];
    for (let i = 0; i < opts.maxTokens; i++) {
      const window = ids.slice(-T);
      const inputs = new Uint32Array(T);
      inputs.set(window);
      this.engine.upload({ inputs, targets: new Uint32Array(T) });
      const batch = new CommandBatch(this.gpu, "generate");
      this.engine.forward(batch);
      const row = batch.read(this.engine.logits, (window.length - 1) * V * 4, V * 4);
      batch.submit();
      const next = sampleToken(new Float32Array(await row), opts, uniform);
      if (opts.stopIds?.includes(next)) break;
      ids.push(next);
      out.push(next);
      onToken?.(next);
    }
    return out;
  }

  destroy(): void {
    this.engine.destroy(true);
  }
}
