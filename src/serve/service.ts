/**
 * Text in, text out: one loaded model with its engine and scheduler. Tokenizes prompts, applies the model's
 * generation defaults, caps max_tokens by the context, ends on `<|endoftext|>` and stop strings (text held back
 * while it could still become a stop string), and streams text deltas. Not HTTP (app.ts) and not GPU (engine.ts).
 */
import type { Gpu } from "../gpu/mod.ts";
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
}

/** One finished completion. */
export interface Completion {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
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
}

/** Defaults: 32 sequences, 16 tokens per readback, MLflow's 60 s scoring-server request timeout. */
export const DEFAULT_SERVICE_OPTIONS: ServiceOptions = { maxBatch: 32, chunk: 16, requestTimeoutMs: 60_000 };

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

  /** The error for a prompt that leaves no room to generate, or null. */
  checkPrompt(ids: number[]): string | null {
    return ids.length >= this.context
      ? `the prompt has ${ids.length} tokens; the model's context is ${this.context}, leaving no room to generate`
      : null;
  }

  /** Generates one completion of `prompt`; `onText` sees each new piece of text (never part of a stop string). */
  async complete(
    prompt: string | number[],
    opts: GenerateOptions,
    onText?: (delta: string) => void,
    signal?: AbortSignal,
  ): Promise<Completion> {
    const ids = typeof prompt === "string" ? this.encode(prompt) : prompt;
    const problem = this.checkPrompt(ids);
    if (problem) throw new RangeError(`Cannot generate: ${problem}`);
    const g = this.loaded.generation;
    const tok = this.loaded.tokenizer;
    const stops = (opts.stop ?? []).filter((s) => s.length > 0);
    const eos = [tok.eotId, g.eos_token_id].filter((x): x is number => typeof x === "number" && x >= 0);
    const maxTokens = capTokens(opts.maxTokens ?? g.max_new_tokens, ids.length, this.context);
    const out: number[] = [];
    let text = "";
    let emitted = 0;
    let stopped = false;
    const flush = (final: boolean) => {
      let end = text.length;
      if (!final) {
        end -= pendingStopPrefix(text, stops);
        while (end > emitted && text.charCodeAt(end - 1) === 0xfffd) end--; // an incomplete UTF-8 sequence
      }
      if (end > emitted) {
        onText?.(text.slice(emitted, end));
        emitted = end;
      }
    };
    if (maxTokens < 1) {
      return { text: "", finishReason: "length", promptTokens: ids.length, completionTokens: 0 };
    }
    const res = await this.scheduler.submit({
      prompt: ids,
      maxTokens,
      temperature: opts.temperature ?? g.temperature,
      topK: opts.topK ?? g.top_k,
      topP: opts.topP ?? g.top_p,
      repetitionPenalty: opts.repetitionPenalty ?? g.repetition_penalty ?? 1,
      seed: opts.seed ?? crypto.getRandomValues(new Uint32Array(1))[0],
      stopIds: eos,
      signal,
      onToken: (id) => {
        out.push(id);
        text = tok.decode(out, { skipSpecial: true });
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
    return {
      text,
      finishReason: stopped ? "stop" : res.finishReason,
      promptTokens: ids.length,
      completionTokens: res.tokens.length,
    };
  }

  /** One line for the start-up banner: batch, KV memory, chunk. */
  describe(): string {
    const l = this.engine.limits;
    const mib = (this.engine.kvBytes / 2 ** 20).toFixed(1);
    const timeout = this.options.requestTimeoutMs
      ? `, requests time out after ${this.options.requestTimeoutMs / 1000} s`
      : "";
    return `batch ≤ ${l.slots} sequences, KV cache ${mib} MiB (${l.context} positions each), ${l.maxChunk} tokens per readback${timeout}`;
  }

  /** Stops taking requests (running ones finish); the engine's buffers stay until `engine.destroy()`. */
  close(): void {
    this.scheduler.close();
  }
}
