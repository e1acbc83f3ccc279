/**
 * Model serving: loading a model from a URI or directory, the KV-cache inference engine with GPU sampling, the
 * continuous-batching scheduler, the text-level service and the HTTP app (MLflow scoring protocol, OpenAI
 * completions, Prometheus metrics).
 */
export { type DecodeSeq, InferenceEngine, type PrefillSeq } from "./engine.ts";
export type { Sampled } from "./logprobs.ts";
export { checkServable, type EngineLimits, kvBytesPerSlot } from "./engine_buffers.ts";
export { emptyStats, type EngineStats } from "./stats.ts";
export {
  capTokens,
  checkLogitBias,
  type FinishReason,
  type GenerationRequest,
  type GenerationResult,
  RequestTimeout,
  Scheduler,
} from "./scheduler.ts";
export { type LoadedModel, loadModel, ModelLoadError, resolveModelDir } from "./load.ts";
export {
  type Completion,
  DEFAULT_SERVICE_OPTIONS,
  type EncodedPrompt,
  type GenerateOptions,
  ModelService,
  planSlots,
  type ServiceOptions,
  type TokenEntry,
} from "./service.ts";
export { Metrics } from "./metrics.ts";
export {
  BadRequest,
  MAX_LOGPROBS,
  MAX_REPETITION_PENALTY,
  parseCompletion,
  parseInvocation,
  type RequestLimits,
} from "./params.ts";
export { createServeApp, type ServeAppOptions } from "./app.ts";
