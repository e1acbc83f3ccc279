/**
 * Continuous batching: requests wait in a FIFO queue, join the running batch between decode chunks (their prompts
 * prefilled together in one pass) and leave it when they stop, freeing their KV-cache slot for the next one. One
 * loop drives the engine; every request gets its tokens through callbacks as each chunk comes back (a request's
 * first token alone, from its prefill). With a target chunk time the steps per chunk follow the measured step
 * time, so a heavier batch reads back sooner. A request that may slide its window re-reads its last `slide` tokens
 * when the context fills and goes on. A request past its deadline (queued or generating) fails with RequestTimeout
 * at once; its slot frees at the chunk's end. Not the HTTP layer (app.ts) and not the GPU work (engine.ts).
 */
import { MAX_LOGIT_BIAS } from "../kernels/sample.ts";
import type { LogitBias, TokenLogprob } from "../kernels/contracts.ts";
import type { DecodeSeq, InferenceEngine, PrefillSeq } from "./engine.ts";

/** What a caller asks for; ids in, ids out (text handling is the caller's). */
export interface GenerationRequest {
  prompt: number[];
  /** ≥ 1; without `slide`, already capped to the context by the caller (see `capTokens`). */
  maxTokens: number;
  /**
   * Tokens kept when the sequence fills the context (1 to context − 1): the last `slide` tokens of prompt and
   * output are prefilled again at positions 0.. and generation goes on, so maxTokens may pass the context
   * (nanoGPT crops to its last block_size tokens the same way, at every step). Absent: no sliding.
   */
  slide?: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  /** CTRL-style penalty on ids already in the sequence, prompt included (1 or absent: off). */
  repetitionPenalty?: number;
  /** OpenAI's penalties on the ids generated so far, not the prompt (0 or absent: off). */
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** OpenAI's logit bias: (id, bias) pairs added to the logits before the penalties; ids < V, each once. */
  logitBias?: LogitBias;
  /** Each generated id's logprob record with this many top alternatives (0 to 5); absent: none. */
  logprobs?: number;
  /** With `logprobs`: also score the prompt tokens after the first (see onPrompt and the result). */
  scorePrompt?: boolean;
  /** Ids that end generation without being emitted (e.g. `<|endoftext|>`). */
  stopIds: number[];
  /** Sees each new id in order (with its record when `logprobs` is set); returning true stops the sequence. */
  onToken?: (id: number, logprob?: TokenLogprob) => boolean | void;
  /** With `scorePrompt`: the prompt's records (tokens 1..n−1), once the prefill is back, before any token. */
  onPrompt?: (records: TokenLogprob[]) => void;
  signal?: AbortSignal;
}

/** Why a sequence ended: a stop id or stop string, the token limit, or the client went away. */
export type FinishReason = "stop" | "length" | "abort";

/** The outcome of one request. */
export interface GenerationResult {
  tokens: number[];
  /** With `logprobs`: one record per token. */
  logprobs?: TokenLogprob[];
  /** With `logprobs`: the record of the stop id that ended the sequence (sampled, but not in `tokens`). */
  stopLogprob?: TokenLogprob;
  /** With `scorePrompt`: the records of prompt tokens 1..n−1. */
  promptLogprobs?: TokenLogprob[];
  finishReason: FinishReason;
  promptTokens: number;
  /** Milliseconds from submit to the first token (from the prefill's readback). */
  ttftMs: number;
}

/** The error of a request that outlived the scheduler's timeout, queued or generating. */
export class RequestTimeout extends Error {
  constructor(readonly ms: number, readonly where: "queue" | "generation", readonly tokens: number) {
    super(
      `Cannot finish the request within ${ms / 1000} s: it timed out ${
        where === "queue" ? "waiting for a free slot" : `after ${tokens} generated tokens`
      }`,
    );
    this.name = "RequestTimeout";
  }
}

/** Counters the metrics endpoint reads. */
export interface SchedulerEvents {
  onFirstToken?(ms: number): void;
  onTokens?(n: number): void;
  onChunk?(info: { sequences: number; steps: number; ms: number }): void;
  onTimeout?(where: "queue" | "generation"): void;
}

interface Seq {
  req: GenerationRequest;
  /** The ids its next prefill reads: the prompt, then after a slide the window of prompt and output. */
  prefill: number[];
  /** Prefilled at least once (a slide's prefill fires no first-token event and scores no prompt). */
  started?: boolean;
  slot: number;
  pos: number; // position of `token`
  token: number; // last sampled id, fed next
  generated: number[];
  logprobs: TokenLogprob[];
  stopLogprob?: TokenLogprob;
  promptLogprobs?: TokenLogprob[];
  submitted: number;
  ttftMs: number;
  done?: FinishReason | "timeout";
  timer?: ReturnType<typeof setTimeout>;
  resolve: (r: GenerationResult) => void;
  reject: (e: unknown) => void;
}

/** What is wrong with a logit bias over V ids (the kernel adds each pair once, in parallel), or null. */
export function checkLogitBias(bias: LogitBias, V: number): string | null {
  if (bias.length > MAX_LOGIT_BIAS) return `it lists ${bias.length} ids, at most ${MAX_LOGIT_BIAS} fit`;
  const ids = new Set<number>();
  for (const [id, b] of bias) {
    if (!Number.isInteger(id) || id < 0 || id >= V) return `id ${id} is not a token id (0 to ${V - 1})`;
    if (ids.has(id)) return `id ${id} is listed twice`;
    if (!(Math.abs(b) <= 100)) return `the bias of id ${id} is ${b}, not a number from -100 to 100`;
    ids.add(id);
  }
  return null;
}

/** The largest max_tokens a prompt of `promptLen` tokens can have within `context` positions. */
export function capTokens(maxTokens: number, promptLen: number, context: number): number {
  return Math.max(0, Math.min(maxTokens, context - promptLen));
}

/** Drives one InferenceEngine for many concurrent requests. */
export class Scheduler {
  #waiting: Seq[] = [];
  #active: Seq[] = [];
  #free: number[];
  #running = false;
  #closed = false;
  #stepMs = 0; // the last chunk's wall time per step (0: none measured yet)

  constructor(
    readonly engine: InferenceEngine,
    readonly options: {
      chunk: number;
      events?: SchedulerEvents;
      /** Milliseconds a request may take from submit to its last token (queue included); 0 or absent: none. */
      timeoutMs?: number;
      /**
       * Wall time a decode chunk aims at: fewer steps than `chunk` when a step takes longer (a big batch), so
       * tokens and newcomers wait at most about this long. Absent: always `chunk` steps.
       */
      targetChunkMs?: number;
    },
  ) {
    this.#free = Array.from({ length: engine.limits.slots }, (_, i) => engine.limits.slots - 1 - i);
  }

  /** Requests waiting for a slot. */
  get queueLength(): number {
    return this.#waiting.length;
  }

  /** Whether the loop is running (a prefill or chunk may be in flight even with no active sequence). */
  get busy(): boolean {
    return this.#running;
  }

  /** Sequences in the running batch. */
  get activeCount(): number {
    return this.#active.length;
  }

  /** Queues a request; resolves when it finishes. */
  submit(req: GenerationRequest): Promise<GenerationResult> {
    if (this.#closed) return Promise.reject(new Error("Cannot generate: the scheduler is closed"));
    const context = this.engine.limits.context;
    if (req.prompt.length === 0 || req.prompt.length >= context) {
      return Promise.reject(
        new RangeError(
          `Cannot generate: the prompt has ${req.prompt.length} tokens, 1 to ${context - 1} fit`,
        ),
      );
    }
    if (!(req.maxTokens >= 1) || (req.slide === undefined && req.prompt.length + req.maxTokens > context)) {
      return Promise.reject(
        new RangeError(`Cannot generate ${req.maxTokens} tokens after ${req.prompt.length}`),
      );
    }
    if (req.slide !== undefined && !(Number.isInteger(req.slide) && req.slide >= 1 && req.slide < context)) {
      return Promise.reject(
        new RangeError(`Cannot slide the window to ${req.slide} tokens: 1 to ${context - 1} fit`),
      );
    }
    const biasProblem = checkLogitBias(req.logitBias ?? [], this.engine.dims.V);
    if (biasProblem) {
      return Promise.reject(new RangeError(`Cannot generate with this logit bias: ${biasProblem}`));
    }
    return new Promise((resolve, reject) => {
      const seq: Seq = {
        req,
        prefill: req.prompt,
        slot: -1,
        pos: req.prompt.length,
        token: 0,
        generated: [],
        logprobs: [],
        submitted: performance.now(),
        ttftMs: 0,
        resolve: (r) => {
          clearTimeout(seq.timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(seq.timer);
          reject(e);
        },
      };
      const ms = this.options.timeoutMs ?? 0;
      if (ms > 0) seq.timer = setTimeout(() => this.#expire(seq, ms), ms);
      this.#waiting.push(seq);
      if (!this.#running) this.#loop();
    });
  }

  /** Rejects queued requests and stops taking new ones (running ones finish). */
  close(): void {
    this.#closed = true;
    for (const s of this.#waiting.splice(0)) {
      s.reject(new Error("Cannot generate: the server is shutting down"));
    }
  }

  /** Fails a request past its deadline: out of the queue now, or out of the batch at the end of this chunk. */
  #expire(s: Seq, ms: number): void {
    const queued = this.#waiting.indexOf(s);
    if (queued >= 0) this.#waiting.splice(queued, 1);
    else if (s.done) return;
    else s.done = "timeout"; // the running chunk still holds its slot; #iteration frees it
    const where = queued >= 0 ? "queue" : "generation";
    this.options.events?.onTimeout?.(where);
    s.reject(new RequestTimeout(ms, where, s.generated.length));
  }

  async #loop(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiting.length > 0 || this.#active.length > 0) {
        try {
          await this.#iteration();
        } catch (err) {
          for (const s of [...this.#active, ...this.#waiting]) s.reject(err);
          for (const s of this.#active) this.#free.push(s.slot);
          this.#active = [];
          this.#waiting = [];
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #iteration(): Promise<void> {
    // Admit waiting requests into free slots while their prompts fit one prefill pass.
    const joining: Seq[] = [];
    let rows = 0;
    while (this.#waiting.length > 0 && this.#free.length > 0) {
      const next = this.#waiting[0];
      if (next.req.signal?.aborted) {
        this.#waiting.shift();
        next.resolve(this.#result(next, "abort"));
        continue;
      }
      if (joining.length > 0 && rows + next.prefill.length > this.engine.rowsMax) break;
      this.#waiting.shift();
      next.slot = this.#free.pop()!;
      rows += next.prefill.length;
      joining.push(next);
    }
    const batch = [...this.#active, ...joining];
    const running = this.#active.length;
    const joined = (i: number) => i >= running; // batch index of a sequence prefilled now
    const context = this.engine.limits.context;
    // Valid decode steps of each sequence this chunk: up to its token limit and the end of its window (a step
    // feeds the token at `pos`, the last position is context − 1); steps past it run but are not delivered.
    const room = (s: Seq) => context - s.pos;
    const remaining = (s: Seq, i: number) =>
      Math.min(s.req.maxTokens - s.generated.length - (joined(i) ? 1 : 0), room(s));
    const steps = Math.min(
      this.#chunkSteps(),
      this.engine.limits.maxChunk,
      Math.max(0, ...batch.map(remaining)),
    );
    const spec = (s: Seq, dst: number, counter: number) => ({
      dst,
      seed: s.req.seed,
      counter,
      temperature: s.req.temperature,
      topK: s.req.topK,
      topP: s.req.topP,
      repetitionPenalty: s.req.repetitionPenalty,
      presencePenalty: s.req.presencePenalty,
      frequencyPenalty: s.req.frequencyPenalty,
      logitBias: s.req.logitBias,
      logprobs: s.req.logprobs,
    });
    // A slide's prefill samples token `generated.length` of the sequence: the RNG counters go on.
    const prefill: PrefillSeq[] = joining.map((s, j) => ({
      slot: s.slot,
      prompt: s.prefill,
      spec: spec(s, running + j, s.generated.length),
      scorePrompt: !s.started && s.req.scorePrompt === true && s.req.logprobs !== undefined,
    }));
    const decode: DecodeSeq[] = batch.map((s, i) => ({
      slot: s.slot,
      pos: s.pos,
      token: s.token,
      spec: spec(s, i, s.generated.length + (joined(i) ? 1 : 0)),
    }));
    const rooms = batch.map((s) => room(s));
    const started = performance.now();
    const { first, chunk } = this.engine.step(prefill, decode, steps);
    const firstOut = await first;
    joining.forEach((s, i) => {
      if (!s.started) {
        s.started = true;
        s.ttftMs = performance.now() - s.submitted;
        this.options.events?.onFirstToken?.(s.ttftMs);
      }
      const prompt = firstOut.prompt?.[i];
      if (prompt) {
        s.promptLogprobs = prompt;
        try {
          s.req.onPrompt?.(prompt);
        } catch {
          s.done = "abort";
        }
      }
      this.#deliver(s, firstOut.ids[i], firstOut.logprobs?.[i]);
    });
    this.#active = batch;
    const out = await chunk();
    const ids = out.ids;
    const S = batch.length;
    for (let t = 0; t < steps; t++) {
      for (let i = 0; i < S; i++) {
        if (t < rooms[i]) this.#deliver(batch[i], ids[t * S + i], out.logprobs?.[t * S + i]);
      }
    }
    const ms = performance.now() - started;
    this.options.events?.onChunk?.({ sequences: S, steps, ms });
    if (steps > 0) this.#stepMs = ms / steps;
    const sliding: Seq[] = [];
    for (const [i, s] of batch.entries()) {
      if (steps > 0) {
        s.token = ids[(steps - 1) * S + i];
        s.pos += steps;
      }
      if (!s.done && s.req.signal?.aborted) s.done = "abort";
      if (!s.done && s.pos >= context) {
        // The window is full: its last `slide` tokens are prefilled again (or it ends at the context).
        if (s.req.slide === undefined) s.done = "length";
        else {
          s.prefill = [...s.req.prompt, ...s.generated].slice(-s.req.slide);
          s.pos = s.prefill.length;
          this.#free.push(s.slot);
          sliding.push(s);
          continue;
        }
      }
      if (s.done) {
        this.#free.push(s.slot);
        if (s.done !== "timeout") s.resolve(this.#result(s, s.done));
      }
    }
    this.#active = batch.filter((s) => !s.done && !sliding.includes(s));
    this.#waiting.unshift(...sliding); // first in line: they were running
  }

  /**
   * Decode steps for the next chunk: `chunk`, fewer when the last chunk's steps were slower than the target, but
   * never under a quarter of `chunk` (below that the readbacks cost more throughput than the latency they save:
   * one step per chunk halved the tokens/s of 128 streams on lavapipe).
   */
  #chunkSteps(): number {
    const { chunk, targetChunkMs } = this.options;
    if (!targetChunkMs || this.#stepMs <= 0) return chunk;
    const floor = Math.max(1, Math.ceil(chunk / 4));
    return Math.max(floor, Math.min(chunk, Math.floor(targetChunkMs / this.#stepMs)));
  }

  #deliver(s: Seq, id: number, logprob?: TokenLogprob | null): void {
    if (s.done) return;
    if (s.req.signal?.aborted) {
      s.done = "abort";
      return;
    }
    if (s.req.stopIds.includes(id)) {
      s.done = "stop";
      if (logprob) s.stopLogprob = logprob;
      return;
    }
    s.generated.push(id);
    if (logprob) s.logprobs.push(logprob);
    this.options.events?.onTokens?.(1);
    let stop = false;
    try {
      stop = s.req.onToken?.(id, logprob ?? undefined) === true;
    } catch {
      s.done = "abort";
      return;
    }
    if (stop) s.done = "stop";
    else if (s.generated.length >= s.req.maxTokens) s.done = "length";
  }

  #result(s: Seq, finishReason: FinishReason): GenerationResult {
    return {
      tokens: s.generated,
      ...(s.req.logprobs !== undefined ? { logprobs: s.logprobs } : {}),
      ...(s.stopLogprob ? { stopLogprob: s.stopLogprob } : {}),
      ...(s.promptLogprobs ? { promptLogprobs: s.promptLogprobs } : {}),
      finishReason,
      promptTokens: s.req.prompt.length,
      ttftMs: s.ttftMs,
    };
  }
}
