/**
 * The declarations a kernel and its CPU twin in src/reference/ share: storage types, default constants and the
 * shapes of settings and results. Production code imports them from here and the oracle imports them too, so the
 * oracle stays a test-only module that still computes everything itself. No code, only declarations.
 */

/** The low-precision storage types of AMP. */
export type LowPrecision = "float16" | "bfloat16";

/** The loss-scale initial value and growth interval (torch.cuda.amp.GradScaler's defaults). */
export const INIT_LOSS_SCALE = 2 ** 16;
export const GROWTH_INTERVAL = 2000;

/** OpenAI's `logit_bias` as (id, bias) pairs: each id at most once, bias in [-100, 100]. */
export type LogitBias = ReadonlyArray<readonly [id: number, bias: number]>;

/** One sequence's sampling settings, as the kernel reads them. */
export interface SampleSpec {
  /** ≤ 0: greedy. */
  temperature: number;
  /** 0 or ≥ V: no top-k filter. */
  topK: number;
  /** ≥ 1: no nucleus filter. */
  topP: number;
  seed: number;
  /** Index of the generated token (0 for the first); the RNG draws uniformAt(seed, counter). */
  counter: number;
  /** CTRL-style penalty on tokens already in the sequence (see applyRepetitionPenalty); 1 or absent: off. */
  repetitionPenalty?: number;
  /** OpenAI's penalties on the ids generated so far (see applyPresenceFrequency); 0 or absent: off. */
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Added to the listed ids' logits before the penalties (see applyLogitBias); empty or absent: off. */
  logitBias?: LogitBias;
}

/** A sampled (or prompt) token's log-probability and the most likely ids at its position, best first. */
export interface TokenLogprob {
  logprob: number;
  top: { id: number; logprob: number }[];
}
