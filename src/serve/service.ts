/**
 * Text in, text out: one loaded model with its engine and scheduler. Tokenizes prompts, applies the model's
 * generation defaults, slides the window past the context (or caps max_tokens by it), scores a prompt alone
 * (max_tokens 0 with echo and logprobs), ends on `<|endoftext|>` and stop strings (text held back
 * while it could still become a stop string), echoes the prompt on request, and streams text deltas, each with the
 * logprob entries of the tokens whose text it carries. Not HTTP (app.ts) and not GPU (engine.ts).
 */
import type { Gpu } from "../gpu/mod.ts";
import type { LogitBias, TokenLogprob } from "../kernels/contracts.ts";
import { InferenceEngine } from "./engine.ts";
import { kvBytesPerSlot } from "./engine_buffers.ts";
import type { LoadedModel } from "./load.ts";
import { Metrics } from "./metrics.ts";
import { capTokens, type FinishReason, Scheduler } from "./scheduler.ts";

/** Generation options after validation; absent ones take the model's generation_config.json defaults. */
export interface GenerateOptions {
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** CTRL-style repetition penalty over the prompt and the generated ids (1: off, the default). */
  repetitionPenalty?: number;
  /** OpenAI's penalties over the generated ids (0: off, the default). */
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** OpenAI's logit_bias as (id, bias) pairs: added to those ids' logits before the penalties. */
  logitBias?: LogitBias;
  /** Logprob entries for the generated tokens, with this many top alternatives (0 to 5); absent: none. */
  logprobs?: number;
  /** Score the completion (Completion.meanLogprob) even without `logprobs`: best_of ranks its candidates by it. */
  score?: boolean;
  /** Prefix the prompt to the text (and, with `logprobs`, its tokens to the entries; the first has no logprob). */
  echo?: boolean;
}

/** One token of a completion, as OpenAI's legacy `logprobs` object lists it. */
export interface TokenEntry {
  /** The token's id decoded alone. */
  token: string;
  /** Its log-probability under the model's raw distribution (null for the first prompt token). */
  logprob: number | null;
  /** The most likely tokens at its position and the token itself, by decoded text (null for the first prompt token). */
  top: Record<string, number> | null;
  /** Characters (code points) from the start of the prompt to the token's text. */
  offset: number;
  /** The token's UTF-8 bytes (a piece of a character stays a piece: chat logprobs' `bytes`). */
  bytes: number[];
  /** The record's top alternatives, likeliest first, each with its bytes (null for the first prompt token). */
  alternatives: { token: string; logprob: number; bytes: number[] }[] | null;
}

/** A prompt already tokenized: its text (for echo) and ids. */
export interface EncodedPrompt {
  text: string;
  ids: number[];
}

/** One finished completion. */
export interface Completion {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** What ended a "stop": a stop string, or an end-of-text id (the model ended it); absent for other reasons. */
  stoppedBy?: "stop string" | "end of text";
  /** With `logprobs`: the entries of the tokens in `text` (the echoed prompt's, then the kept generated ones). */
  logprobs?: TokenEntry[];
  /**
   * With `score` or `logprobs`: the mean log-probability (raw model, floored at −9999) of every token sampled,
   * those past a stop string and the stop id that ended it included; absent when nothing was sampled.
   */
  meanLogprob?: number;
}

/** Engine sizing, from the CLI (--max-batch, --kv-memory, --chunk). */
export interface ServiceOptions {
  /** Most sequences decoded together. */
  maxBatch: number;
  /** KV-cache budget in bytes; caps the batch. */
  kvMemoryBytes?: number;
  /** Decode steps per readback. */
  chunk: number;
  /** Milliseconds a generation may take, queue included (0 or absent: no limit). */
  requestTimeoutMs?: number;
  /**
   * Wall time a decode chunk aims at: fewer than `chunk` steps per readback while steps are slow (a big batch),
   * so tokens stream and newcomers join at least this often (0: always `chunk`; default 100).
   */
  targetChunkMs?: number;
  /**
   * Past the context, keep generating on the last ¾ of it (the oldest quarter dropped, the rest prefilled again)
   * instead of stopping at the context with finish_reason "length" (default true).
   */
  slide?: boolean;
}

/** Defaults: 32 sequences, 16 tokens per readback, MLflow's 60 s scoring-server request timeout. */
export const DEFAULT_SERVICE_OPTIONS: ServiceOptions = { maxBatch: 32, chunk: 16, requestTimeoutMs: 60_000 };

/** Default wall time per decode chunk (see ServiceOptions.targetChunkMs). */
const TARGET_CHUNK_MS = 100;

/** Tokens a sliding sequence keeps when it fills `context`: the last ¾ (nanoGPT keeps all, re-reading each step). */
export function slideWindow(context: number): number {
  return Math.max(1, context - Math.max(1, Math.floor(context / 4)));
}

/** Slots that fit: maxBatch, lowered to what kvMemoryBytes holds; throws when not even one fits. */
export function planSlots(loaded: Pick<LoadedModel, "model">, opts: ServiceOptions): number {
  const per = kvBytesPerSlot(loaded.model);
  const byMemory = opts.kvMemoryBytes === undefined ? Infinity : Math.floor(opts.kvMemoryBytes / per);
  const slots = Math.min(opts.maxBatch, byMemory);
  if (slots < 1) {
    throw new Error(
      `Cannot serve with --kv-memory ${opts.kvMemoryBytes} bytes: one sequence of ${loaded.model.max_seq_len} ` +
        `positions needs ${per} bytes of KV cache`,
    );
  }
  return slots;
}

/** Longest suffix of `text` that is a proper prefix of some stop string (held back while streaming). */
function pendingStopPrefix(text: string, stops: string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

/** Code points in `s` (what Python's len counts, for OpenAI's text_offset). */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 === s.length) n++;
  }
  return n;
}

/**
 * Text of a token stream as far as it is settled: each token's bytes go through a streaming UTF-8 decoder, so the
 * bytes of a character still incomplete wait for the token that completes it (invalid bytes become U+FFFD at
 * once). `text` is always a prefix of the whole decode; special tokens add nothing.
 */
class SettledText {
  text = "";
  points = 0; // code points of text
  #decoder = new TextDecoder();

  constructor(readonly tokenizer: LoadedModel["tokenizer"]) {}

  push(id: number): void {
    if (this.tokenizer.isSpecial(id)) return;
    const piece = this.#decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
    this.text += piece;
    this.points += codePoints(piece);
  }
}

/** Logprobs as JSON carries them: finite, at least −9999 (OpenAI's and vLLM's floor). */
const finite = (x: number) => Math.max(x, -9999);

/** The served model. */
export class ModelService {
  readonly engine: InferenceEngine;
  readonly scheduler: Scheduler;
  readonly context: number;

  constructor(
    readonly gpu: Gpu,
    readonly loaded: LoadedModel,
    readonly options: ServiceOptions,
    readonly metrics: Metrics = new Metrics(),
  ) {
    this.context = loaded.model.max_seq_len;
    this.engine = new InferenceEngine(gpu, loaded.model, loaded.params, {
      slots: planSlots(loaded, options),
      context: this.context,
      prefillRows: 4 * this.context,
      maxChunk: options.chunk,
    });
    this.scheduler = new Scheduler(this.engine, {
      chunk: options.chunk,
      timeoutMs: options.requestTimeoutMs,
      targetChunkMs: options.targetChunkMs ?? TARGET_CHUNK_MS,
      events: {
        onFirstToken: (ms) => metrics.firstToken(ms),
        onTokens: (n) => metrics.tokens(n),
        onChunk: (c) => metrics.chunk(c.sequences * c.steps, c.ms),
        onTimeout: (where) => metrics.timeout(where),
      },
    });
    metrics.gauges = () => ({
      queue: this.scheduler.queueLength,
      active: this.scheduler.activeCount,
      slots: this.engine.limits.slots,
      kvBytes: this.engine.kvBytes,
    });
  }

  /** Prompt ids of `text`; an empty prompt starts from `<|endoftext|>` (the document separator). */
  encode(text: string): number[] {
    const ids = this.loaded.tokenizer.encode(text);
    if (ids.length === 0) ids.push(this.loaded.tokenizer.eotId ?? 0);
    return ids;
  }

  /** Whether generation goes on past the context (ServiceOptions.slide). */
  get slides(): boolean {
    return this.options.slide !== false;
  }

  /** The error for a prompt that leaves no room to generate, or null. */
  checkPrompt(ids: number[]): string | null {
    return ids.length >= this.context
      ? `the prompt has ${ids.length} tokens; the model's context is ${this.context}, leaving no room to generate`
      : null;
  }

  /** Decodes `id` alone, special tokens included (a logprob entry's token). */
  #token(id: number): string {
    return this.loaded.tokenizer.decode([id]);
  }

  /**
   * The chosen `id` and the record's top ids as a token → logprob map (n + 1 entries at most, as OpenAI's). Ids that
   * decode alike (bytes of an incomplete character all read U+FFFD) share a key: the chosen one keeps it, then the
   * likelier.
   */
  #topEntries(record: TokenLogprob, id: number): Record<string, number> {
    const top: Record<string, number> = Object.create(null);
    for (const t of [{ id, logprob: record.logprob }, ...record.top]) {
      const key = this.#token(t.id);
      if (!(key in top)) top[key] = finite(t.logprob);
    }
    return top;
  }

  /** The entry of token `id` at `offset` with its record (none: the first prompt token). */
  #entry(id: number, offset: number, record: TokenLogprob | null): TokenEntry {
    const bytes = (i: number) => [...this.loaded.tokenizer.tokenBytes(i)];
    return {
      token: this.#token(id),
      logprob: record ? finite(record.logprob) : null,
      top: record ? this.#topEntries(record, id) : null,
      offset,
      bytes: bytes(id),
      alternatives: record
        ? record.top.map((t) => ({
          token: this.#token(t.id),
          logprob: finite(t.logprob),
          bytes: bytes(t.id),
        }))
        : null,
    };
  }

  /** Entries of the prompt tokens: the first without a logprob, then one per record (tokens 1..n−1). */
  #promptEntries(ids: number[], records: TokenLogprob[]): TokenEntry[] {
    const settled = new SettledText(this.loaded.tokenizer);
    return ids.map((id, j) => {
      const offset = settled.points;
      settled.push(id);
      return this.#entry(id, offset, j === 0 ? null : records[j - 1]);
    });
  }

  /**
   * Generates one completion of `prompt`; `onText` sees each new piece of text (never part of a stop string) with
   * the logprob entries of the tokens whose text starts in it (when `logprobs` is asked). With `echo`, the prompt
   * comes first, as a piece of its own. A stop string cuts the text and the entries of the tokens past the cut.
   * `maxTokens` 0 generates nothing; with echo and logprobs the prompt is still scored (prompt scoring).
   */
  async complete(
    prompt: string | number[] | EncodedPrompt,
    opts: GenerateOptions,
    onText?: (delta: string, logprobs: TokenEntry[]) => void,
    signal?: AbortSignal,
  ): Promise<Completion> {
    const tok = this.loaded.tokenizer;
    const ids = typeof prompt === "string"
      ? this.encode(prompt)
      : Array.isArray(prompt)
      ? prompt
      : prompt.ids;
    const promptText = typeof prompt === "string"
      ? prompt
      : Array.isArray(prompt)
      ? tok.decode(prompt, { skipSpecial: true })
      : prompt.text;
    const problem = this.checkPrompt(ids);
    if (problem) throw new RangeError(`Cannot generate: ${problem}`);
    const g = this.loaded.generation;
    const stops = (opts.stop ?? []).filter((s) => s.length > 0);
    const eos = [tok.eotId, g.eos_token_id].filter((x): x is number => typeof x === "number" && x >= 0);
    const asked = opts.maxTokens ?? g.max_new_tokens;
    const maxTokens = this.slides ? asked : capTokens(asked, ids.length, this.context);
    const wantLogprobs = opts.logprobs !== undefined;
    const records = wantLogprobs || opts.score === true; // the engine's records: entries, a score or both
    const echo = opts.echo === true;
    // max_tokens 0 with echo and logprobs: the prefill scores the prompt; its sampled token is dropped.
    const scoreOnly = maxTokens < 1 && echo && wantLogprobs;
    const head = echo ? promptText : ""; // the text before the generated text
    const promptLength = codePoints(promptText);
    const entries: TokenEntry[] = []; // every entry passed on, in order
    const pending: { start: number; entry: TokenEntry }[] = []; // generated, waiting for their text to go out
    const out: number[] = [];
    const settled = new SettledText(tok);
    let text = "";
    let emitted = 0;
    let stopped = false;
    const emit = (delta: string, logprobs: TokenEntry[]) => {
      entries.push(...logprobs);
      onText?.(delta, logprobs);
    };
    const flush = (final: boolean) => {
      let end = text.length;
      if (!final) end = Math.min(end - pendingStopPrefix(text, stops), settled.text.length);
      // A token goes with the piece its text starts in; at the end, all that are left unless a stop string cut
      // them off.
      const limit = !final ? end : stopped ? text.length : Infinity;
      let k = 0;
      while (k < pending.length && pending[k].start < limit) k++;
      const taken = pending.splice(0, k).map((p) => p.entry);
      if (final) pending.length = 0;
      if (end > emitted || taken.length > 0) {
        emit(text.slice(emitted, Math.max(end, emitted)), taken);
        emitted = Math.max(end, emitted);
      }
    };
    if (echo && !wantLogprobs && promptText.length > 0) emit(promptText, []);
    if (maxTokens < 1 && !scoreOnly) {
      return {
        text: head,
        finishReason: "length",
        promptTokens: ids.length,
        completionTokens: 0,
        ...(wantLogprobs ? { logprobs: entries } : {}),
      };
    }
    const res = await this.scheduler.submit({
      prompt: ids,
      maxTokens: Math.max(1, maxTokens),
      ...(this.slides ? { slide: slideWindow(this.context) } : {}),
      temperature: opts.temperature ?? g.temperature,
      topK: opts.topK ?? g.top_k,
      topP: opts.topP ?? g.top_p,
      repetitionPenalty: opts.repetitionPenalty ?? g.repetition_penalty ?? 1,
      presencePenalty: opts.presencePenalty ?? 0,
      frequencyPenalty: opts.frequencyPenalty ?? 0,
      logitBias: opts.logitBias,
      logprobs: records ? opts.logprobs ?? 0 : undefined,
      scorePrompt: echo && wantLogprobs,
      seed: opts.seed ?? crypto.getRandomValues(new Uint32Array(1))[0],
      stopIds: eos,
      signal,
      onPrompt: (records) => emit(promptText, this.#promptEntries(ids, records)),
      onToken: (id, record) => {
        if (scoreOnly) return true;
        const start = settled.text.length; // where this token's text begins
        const offset = promptLength + settled.points;
        settled.push(id);
        out.push(id);
        text = tok.decode(out, { skipSpecial: true });
        if (record && wantLogprobs) pending.push({ start, entry: this.#entry(id, offset, record) });
        const hit = stops.map((s) => text.indexOf(s)).filter((i) => i >= 0);
        if (hit.length > 0) {
          text = text.slice(0, Math.min(...hit));
          stopped = true;
        }
        flush(false);
        return stopped;
      },
    });
    flush(true);
    const sampled = scoreOnly ? [] : [...res.logprobs ?? [], ...res.stopLogprob ? [res.stopLogprob] : []];
    return {
      text: head + text,
      finishReason: scoreOnly ? "length" : stopped ? "stop" : res.finishReason,
      ...(scoreOnly
        ? {}
        : stopped
        ? { stoppedBy: "stop string" as const }
        : res.finishReason === "stop"
        ? { stoppedBy: "end of text" as const }
        : {}),
      promptTokens: ids.length,
      completionTokens: scoreOnly ? 0 : res.tokens.length,
      ...(wantLogprobs ? { logprobs: entries } : {}),
      ...(records && sampled.length > 0
        ? { meanLogprob: sampled.reduce((a, r) => a + finite(r.logprob), 0) / sampled.length }
        : {}),
    };
  }

  /** One line for the start-up banner: batch, KV memory, chunk. */
  describe(): string {
    const l = this.engine.limits;
    const mib = (this.engine.kvBytes / 2 ** 20).toFixed(1);
    const timeout = this.options.requestTimeoutMs
      ? `, requests time out after ${this.options.requestTimeoutMs / 1000} s`
      : "";
    return `batch ≤ ${l.slots} sequences, KV cache ${mib} MiB (${l.context} positions each), ≤ ${l.maxChunk} tokens per readback${timeout}`;
  }

  /** Stops taking requests (running ones finish); the engine's buffers stay until `engine.destroy()`. */
  close(): void {
    this.scheduler.close();
  }
}
