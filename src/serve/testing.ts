/**
 * Test and benchmark helper: writes a small model directory with random weights (a byte-level BPE trained on a
 * few sentences, saveModelDir's files), so serving tests need no training run.
 */
import { defaultConfig, type ModelConfig } from "../config/mod.ts";
import { PreTokenCounts, tokenizerToJson, trainBpe } from "../data/mod.ts";
import { saveModelDir } from "../model/checkpoint.ts";
import { initParams } from "../model/init.ts";
import { buildLayout } from "../model/layout.ts";

const TEXT =
  "Once upon a time there was a little fox. The fox liked to run in the green forest with her friend. " +
  "One day they found a shiny stone near the river and they were very happy.";

/** Writes a random model to `dir`; `model` overrides the tiny defaults (V 300, C 32, 2 layers, 64 positions). */
export async function writeRandomModel(
  dir: string,
  options: { seed?: number; scale?: number; model?: Partial<ModelConfig>; maxNewTokens?: number } = {},
): Promise<ModelConfig> {
  const config = defaultConfig();
  Object.assign(config.model, {
    vocab_size: 300,
    hidden_size: 32,
    num_layers: 2,
    num_heads: 4,
    num_kv_heads: 2,
    intermediate_size: 64,
    max_seq_len: 64,
    tie_embeddings: true,
    ...options.model,
  });
  const counts = new PreTokenCounts();
  counts.add(TEXT);
  const tokenizer = trainBpe(counts, { vocabSize: config.model.vocab_size });
  const layout = buildLayout(config.model);
  const params = initParams(layout, options.seed ?? 1);
  const scale = options.scale ?? 5;
  for (let i = 0; i < params.length; i++) params[i] *= scale;
  await saveModelDir(dir, layout, params, config, tokenizerToJson(tokenizer), {
    max_new_tokens: options.maxNewTokens ?? 20,
    temperature: 0.8,
    top_k: 50,
    top_p: 0.95,
    eos_token_id: tokenizer.eotId ?? -1,
  });
  return config.model;
}
