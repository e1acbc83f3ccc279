/**
 * The whole-model GPU checks' shared setup (engine_test, moe_test, amp_test): the tiny config, the one batch of tokens
 * they feed, and the per-parameter comparison of the engine's gradients with the reference model's.
 */
import { assertClose } from "../src/gpu/testing.ts";
import { type Config, defaultConfig, type ModelConfig } from "../src/config/mod.ts";
import type { Layout } from "../src/model/layout.ts";

/** A 2-layer model of width 24 (4 heads over 2 KV heads, FFN 40), 37 tokens, sequences of 13; `model` overrides. */
export function tinyModelConfig(model: Partial<ModelConfig> = {}): Config {
  const c = defaultConfig();
  Object.assign(c.model, {
    vocab_size: 37,
    hidden_size: 24,
    num_layers: 2,
    num_heads: 4,
    num_kv_heads: 2,
    intermediate_size: 40,
    max_seq_len: 13,
    ...model,
  });
  return c;
}

/** The batch every check trains on: B sequences of T tokens, inputs and targets below 37. */
export const [B, T] = [3, 13];
/** [B·T] token ids. */
export const inputs = Uint32Array.from({ length: B * T }, (_, i) => (i * 13 + 5) % 37);
/** [B·T] next-token ids. */
export const targets = Uint32Array.from({ length: B * T }, (_, i) => (i * 11 + 2) % 37);

/** The assertClose message of each parameter whose engine gradient misses the reference's ([] when all agree). */
export function gradientMismatches(layout: Layout, grads: Float32Array, ref: Float32Array): string[] {
  const failures: string[] = [];
  for (const e of layout.entries) {
    try {
      assertClose(
        grads.subarray(e.offset, e.offset + e.size),
        ref.subarray(e.offset, e.offset + e.size),
        `d${e.name}`,
        { rtol: 2e-3, atol: 2e-5 },
      );
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  return failures;
}
