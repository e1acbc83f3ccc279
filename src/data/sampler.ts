/**
 * Batches of (B, T+1) token windows: seeded random offsets for training (as torch_reference.py's `batch` draws
 * them), fixed consecutive windows for validation. The training sampler's state is a few numbers, saved in
 * checkpoints so a resumed run draws exactly the batches the uninterrupted run would have drawn.
 */
import type { TokenArray } from "./token_cache.ts";

/** Everything needed to continue a training batch stream; plain JSON. */
export interface BatchSamplerState {
  seed: number;
  /** Batches drawn so far. */
  step: number;
  /** xoshiro128** state. */
  rng: [number, number, number, number];
}

export interface BatchSamplerOptions {
  /** B: windows per batch. */
  batchSize: number;
  /** T: tokens per input row; each window holds T + 1 tokens (inputs and shifted targets). */
  seqLen: number;
  seed: number;
  /** Continue from a saved state instead of starting from `seed`. */
  state?: BatchSamplerState;
}

/** Training batches: B windows at uniformly random offsets. */
export class BatchSampler {
  readonly batchSize: number;
  readonly seqLen: number;
  #tokens: TokenArray;
  #seed: number;
  #step: number;
  #s: Uint32Array;

  constructor(tokens: TokenArray, opts: BatchSamplerOptions) {
    checkWindow(tokens, opts.seqLen, "training");
    this.#tokens = tokens;
    this.batchSize = opts.batchSize;
    this.seqLen = opts.seqLen;
    const st = opts.state;
    this.#seed = st?.seed ?? opts.seed;
    this.#step = st?.step ?? 0;
    this.#s = st ? Uint32Array.from(st.rng) : seedXoshiro(opts.seed);
  }

  /** The next batch, (B, T+1) row-major: row b holds inputs [0, T) and targets [1, T+1). */
  next(): Uint32Array {
    const T1 = this.seqLen + 1, out = new Uint32Array(this.batchSize * T1);
    const range = this.#tokens.length - this.seqLen;
    for (let b = 0; b < this.batchSize; b++) {
      const at = Math.floor(this.#uniform() * range);
      out.set(this.#tokens.subarray(at, at + T1), b * T1);
    }
    this.#step++;
    return out;
  }

  /** The state to store in a checkpoint; pass it back as `state` to continue the same stream. */
  state(): BatchSamplerState {
    const [a, b, c, d] = this.#s;
    return { seed: this.#seed, step: this.#step, rng: [a, b, c, d] };
  }

  /** A float in [0, 1) with 53 random bits. */
  #uniform(): number {
    const hi = xoshiro(this.#s) >>> 5, lo = xoshiro(this.#s) >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

/**
 * Validation batches: the token stream cut into consecutive windows (starts 0, T, 2T, ...); batch k takes windows
 * kB .. kB+B-1, wrapping around. The same k always gives the same batch, so evaluations are comparable.
 */
export class EvalSampler {
  readonly batchSize: number;
  readonly seqLen: number;
  /** Number of distinct windows. */
  readonly windows: number;
  #tokens: TokenArray;

  constructor(tokens: TokenArray, opts: { batchSize: number; seqLen: number }) {
    checkWindow(tokens, opts.seqLen, "validation");
    this.#tokens = tokens;
    this.batchSize = opts.batchSize;
    this.seqLen = opts.seqLen;
    this.windows = Math.floor((tokens.length - 1) / opts.seqLen);
  }

  /** Batches needed to see every window once. */
  get batchesPerPass(): number {
    return Math.ceil(this.windows / this.batchSize);
  }

  /** Batch k, (B, T+1) row-major. */
  batch(k: number): Uint32Array {
    const T = this.seqLen, out = new Uint32Array(this.batchSize * (T + 1));
    for (let b = 0; b < this.batchSize; b++) {
      const at = ((k * this.batchSize + b) % this.windows) * T;
      out.set(this.#tokens.subarray(at, at + T + 1), b * (T + 1));
    }
    return out;
  }
}

function checkWindow(tokens: TokenArray, seqLen: number, what: string): void {
  if (tokens.length < seqLen + 1) {
    throw new RangeError(
      `Cannot sample ${what} batches: ${tokens.length} tokens, fewer than one window of ${seqLen + 1}`,
    );
  }
}

/** splitmix32 expansion of a seed into xoshiro128** state (never all zero). */
function seedXoshiro(seed: number): Uint32Array {
  const s = new Uint32Array(4);
  let x = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    s[i] = (z ^ (z >>> 16)) >>> 0;
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return s;
}

function xoshiro(s: Uint32Array): number {
  const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
