/**
 * Data: corpus readers, the built-in story generator, the byte-level BPE tokenizer (HF tokenizer.json), token
 * files and batch samplers. The trainer needs one call:
 *
 * @example
 * ```ts
 * import { prepareData } from "./src/data/mod.ts";
 * import { loadConfig } from "./src/config/mod.ts";
 *
 * const { config } = await loadConfig("tiny");
 * const data = await prepareData(config, { log: console.log });
 * const T = config.model.max_seq_len;
 * const batches = data.trainSampler({ batchSize: config.training.batch_size, seqLen: T, seed: config.training.seed });
 * const batch = batches.next(); // Uint32Array (B, T+1): inputs [0, T), targets [1, T+1) of each row
 * const saved = batches.state(); // store in the checkpoint; trainSampler({ ..., state: saved }) resumes
 * const evalBatch = data.evalSampler({ batchSize: 8, seqLen: T }).batch(0);
 * console.log(data.stats.trainTokens, data.tokenizer.decode(batch.subarray(0, T + 1)), evalBatch.length);
 * ```
 */
export { type DataStats, isHeldOut, prepareData, type PreparedData, type PrepareOptions } from "./prepare.ts";
export { type AddedToken, END_OF_TEXT, Tokenizer, type TokenizerParts } from "./tokenizer.ts";
export { loadTokenizer, parseTokenizerJson, saveTokenizer, tokenizerToJson } from "./tokenizer_json.ts";
export { type BpeTrainOptions, PreTokenCounts, trainBpe } from "./bpe_train.ts";
export {
  BUILTIN_STORIES,
  type CorpusFormat,
  type CorpusOptions,
  type CorpusSource,
  describeSources,
  readCorpus,
  resolveCorpus,
} from "./corpus.ts";
export { generateStories, STORIES_VERSION } from "./stories.ts";
export {
  readTokenFile,
  type TokenArray,
  type TokenDtype,
  tokenDtype,
  TokenFileWriter,
  writeTokenFile,
} from "./token_cache.ts";
export { BatchSampler, type BatchSamplerOptions, type BatchSamplerState, EvalSampler } from "./sampler.ts";
export { makeRng } from "./rng.ts";
export { firstInvalidUtf8 } from "./_utf8.ts";
