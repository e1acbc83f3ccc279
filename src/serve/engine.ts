/**
 * The KV-cache inference engine on the GPU: a prefill pass over whole prompts (many rows per sequence) and chunks
 * of batched decode steps (one row per sequence) whose sampled ids feed the next step's embedding gather on the
 * GPU, so a chunk of N tokens is one submit and one readback. A decode step over S sequences is recorded once as
 * a DispatchProgram and replayed for every step of every chunk into one compute pass. Holds the cache (slots ×
 * context) for every layer and each slot's sampling state (seen-token bitmap, generated-id counts, logit bias
 * list). Logprob records of sampled ids (and, on request, of the prompt tokens, scored after the prefill) come
 * back in the same readback.
 * Buffer sizes and allocation are engine_buffers.ts. Not the scheduler that decides who runs (scheduler.ts) and
 * not training (src/model/engine.ts).
 */
import { debugLevel } from "../log.ts";
import type { ModelConfig } from "../config/mod.ts";
import { type Binding, CommandBatch, createBuffer, type Gpu, upload } from "../gpu/mod.ts";
import { matmul } from "../kernels/matmul.ts";
import { embeddingForward } from "../kernels/embedding.ts";
import { rmsnormForward } from "../kernels/rmsnorm.ts";
import { swigluForward } from "../kernels/swiglu.ts";
import { attendCached, gatherRows, kvAppend, maxCacheLength, ropeRows } from "../kernels/decode.ts";
import {
  type GpuSampleSpec,
  MAX_LOGIT_BIAS,
  packLogitBias,
  packSpecs,
  sample,
  seenBitmap,
  seenWords,
  slotWords,
} from "../kernels/sample.ts";
import { buildLayout, type Layout, type ModelDims, modelDims } from "../model/layout.ts";
import { type MoeLayer, moeTensors } from "../model/moe.ts";
import {
  allocateEngineBuffers,
  checkServable,
  destroyEngineBuffers,
  type EngineBuffers,
  type EngineLimits,
  F32,
} from "./engine_buffers.ts";
import {
  decodeWords,
  NOTHING,
  prefillLayout,
  prefillWords,
  promptPieceRows,
  promptTargets,
  readDecode,
  readPrefill,
  type Sampled,
  scorePromptRows,
} from "./logprobs.ts";
import { DispatchProgram } from "./program.ts";
import { emptyStats, type EngineStats } from "./stats.ts";

/** A sequence entering the batch: its prompt goes through one prefill pass that samples its first token. */
export interface PrefillSeq {
  slot: number;
  prompt: number[];
  /**
   * Sampling settings with counter 0 and dst = the sequence's index in the following decode chunk; its logitBias
   * is stored in the slot here, and the decode specs of this slot carry the same list.
   */
  spec: GpuSampleSpec;
  /** Also score the prompt: the logprob record of each prompt token after the first (spec.logprobs top entries). */
  scorePrompt?: boolean;
}

/** A sequence in the decode chunk (index i of the list = spec.dst). */
export interface DecodeSeq {
  slot: number;
  /** Position of `token`, the last sampled and not yet fed id. */
  pos: number;
  /** The last sampled id; ignored for a sequence prefilled in the same step (its prefill writes it). */
  token: number;
  spec: GpuSampleSpec;
}

/** The KV-cache model. Build once per served model; `step` runs one prefill and/or one decode chunk. */
export class InferenceEngine {
  readonly dims: ModelDims;
  readonly layout: Layout;
  readonly params: GPUBuffer;
  readonly rowsMax: number;
  /** Host time counters (see EngineStats); reset by assigning emptyStats(). */
  stats: EngineStats = emptyStats();
  #buffers: EngineBuffers; // all of them, for destroy
  // The buffers (shapes in engine_buffers.ts's EngineBuffers), kept as fields so the recording code reads short.
  #a: EngineBuffers["a"];
  #kc: GPUBuffer[]; // per layer (slots,context,KVH,HS)
  #vc: GPUBuffer[];
  #pre: EngineBuffers["pre"];
  #dec: EngineBuffers["dec"];
  #seen: GPUBuffer; // u32 (slots, slotWords(V)): seen bitmap (prompt included), then generated-id counts
  #bias: GPUBuffer; // u32 (slots, MAX_LOGIT_BIAS, 2): each slot's logit bias list
  #piece: number; // prefill rows per prompt-scoring matmul
  #promptLogits?: GPUBuffer; // (piece, V), allocated by the first prefill that scores its prompt
  #moe: Map<number, MoeLayer>; // layer → its MoE MLP (inference-only use of the training block)
  #programs = new Map<number, DispatchProgram>(); // decode step over S sequences → its recorded dispatches

  constructor(
    readonly gpu: Gpu,
    readonly model: ModelConfig,
    params: Float32Array | GPUBuffer,
    readonly limits: EngineLimits,
  ) {
    checkServable(model);
    const d = (this.dims = modelDims(model));
    this.layout = buildLayout(model);
    const max = maxCacheLength(gpu.limits.maxComputeWorkgroupStorageSize);
    if (limits.context > max) {
      throw new Error(
        `Cannot serve with a context of ${limits.context}: this device's attention fits ${max}`,
      );
    }
    if (params instanceof GPUBuffer) this.params = params;
    else {
      if (params.length !== this.layout.total) {
        throw new Error(
          `Cannot load parameters: ${params.length} floats, the layout needs ${this.layout.total}`,
        );
      }
      this.params = createBuffer(gpu.device, "serve params", params);
    }
    this.rowsMax = Math.max(limits.prefillRows, limits.slots);
    this.#piece = promptPieceRows(limits.promptPieceRows, this.rowsMax, d.V);
    const b = (this.#buffers = allocateEngineBuffers(gpu, model, d, limits, this.rowsMax));
    this.#a = b.a;
    this.#kc = b.kc;
    this.#vc = b.vc;
    this.#pre = b.pre;
    this.#dec = b.dec;
    this.#seen = b.seen;
    this.#bias = b.bias;
    this.#moe = b.moe;
  }

  /** Bytes of the KV cache. */
  get kvBytes(): number {
    return 2 * this.#kc.reduce((n, b) => n + b.size, 0);
  }

  #w(name: string): Binding {
    const e = this.layout.byName.get(name);
    if (!e) throw new Error(`Cannot find parameter ${name} in the layout`);
    return { buffer: this.params, offset: e.offset * F32, size: e.size * F32 };
  }

  /**
   * Records the blocks and the final norm over R rows: ids (R) at rows (R) → n (R,C), appending to the cache.
   * The residual stream x is updated in place (attention output, then the MLP, accumulate into it).
   */
  #forward(batch: CommandBatch, ids: GPUBuffer, rows: GPUBuffer, R: number): void {
    const d = this.dims;
    const a = this.#a;
    const m = this.model;
    const C = d.C;
    const TMAX = this.limits.context;
    const qw = d.NH * d.HS;
    const kvw = d.KVH * d.HS;
    const eps = m.norm_eps;
    embeddingForward(batch, { ids, weight: this.#w("embed.weight"), out: a.x, N: R, C });
    for (let l = 0; l < d.L; l++) {
      const p = `blocks.${l}`;
      rmsnormForward(batch, {
        x: a.x,
        weight: this.#w(`${p}.n1.weight`),
        out: a.n,
        rstd: a.rstd,
        N: R,
        C,
        eps,
      });
      matmul(batch, { a: a.n, b: this.#w(`${p}.attn.q.weight`), c: a.q, M: R, K: C, N: qw, transB: true });
      matmul(batch, { a: a.n, b: this.#w(`${p}.attn.k.weight`), c: a.k, M: R, K: C, N: kvw, transB: true });
      matmul(batch, { a: a.n, b: this.#w(`${p}.attn.v.weight`), c: a.v, M: R, K: C, N: kvw, transB: true });
      ropeRows(batch, { x: a.q, rows, R, H: d.NH, HS: d.HS, theta: m.rope_theta });
      ropeRows(batch, { x: a.k, rows, R, H: d.KVH, HS: d.HS, theta: m.rope_theta });
      kvAppend(batch, { k: a.k, v: a.v, kc: this.#kc[l], vc: this.#vc[l], rows, R, W: kvw, TMAX });
      attendCached(batch, {
        q: a.q,
        kc: this.#kc[l],
        vc: this.#vc[l],
        rows,
        out: a.att,
        R,
        NH: d.NH,
        KVH: d.KVH,
        HS: d.HS,
        TMAX,
      });
      matmul(batch, {
        a: a.att,
        b: this.#w(`${p}.attn.o.weight`),
        c: a.x,
        M: R,
        K: qw,
        N: C,
        transB: true,
        accumulate: true,
      });
      rmsnormForward(batch, {
        x: a.x,
        weight: this.#w(`${p}.n2.weight`),
        out: a.n,
        rstd: a.rstd,
        N: R,
        C,
        eps,
      });
      this.#mlp(batch, l, R); // x += mlp(n)
    }
    rmsnormForward(batch, { x: a.x, weight: this.#w("norm.weight"), out: a.n, rstd: a.rstd, N: R, C, eps });
  }

  /** x (R,C) += MLP of n (R,C): SwiGLU, or the layer's mixture of experts. */
  #mlp(batch: CommandBatch, l: number, R: number): void {
    const d = this.dims;
    const a = this.#a;
    const moe = this.#moe.get(l);
    if (moe) {
      moe.forward(batch, { x: a.n, out: a.x, w: moeTensors(l, (n) => this.#w(n)), accumulate: true, n: R });
      return;
    }
    const p = `blocks.${l}.mlp`;
    matmul(batch, { a: a.n, b: this.#w(`${p}.gate.weight`), c: a.gate, M: R, K: d.C, N: d.I, transB: true });
    matmul(batch, { a: a.n, b: this.#w(`${p}.up.weight`), c: a.up, M: R, K: d.C, N: d.I, transB: true });
    swigluForward(batch, { gate: a.gate, up: a.up, out: a.h, n: R * d.I });
    const down = this.#w(`${p}.down.weight`);
    matmul(batch, { a: a.h, b: down, c: a.x, M: R, K: d.I, N: d.C, transB: true, accumulate: true });
  }

  /** logits (S,V) = rows (S,C) · headᵀ. */
  #head(batch: CommandBatch, rows: GPUBuffer, S: number): void {
    const d = this.dims;
    const head = this.model.tie_embeddings ? "embed.weight" : "head.weight";
    matmul(batch, { a: rows, b: this.#w(head), c: this.#a.logits, M: S, K: d.C, N: d.V, transB: true });
  }

  /** The recorded decode step over S sequences: forward, head and sampling (which feeds the next step). */
  #decodeProgram(S: number): DispatchProgram {
    let program = this.#programs.get(S);
    if (!program) {
      program = DispatchProgram.record(this.gpu, `decode S=${S}`, (batch) => {
        this.#forward(batch, this.#dec.ids, this.#dec.rows, S);
        this.#head(batch, this.#a.n, S);
        sample(batch, {
          logits: this.#a.logits,
          specs: this.#dec.specs,
          ids: this.#dec.ids,
          out: this.#dec.out,
          rows: this.#dec.rows,
          seen: this.#seen,
          raw: this.#a.raw,
          bias: this.#bias,
          S,
          V: this.dims.V,
          step: 0,
          lpBase: this.limits.maxChunk * S,
          decode: true,
        });
      });
      this.#programs.set(S, program);
    }
    return program;
  }

  /**
   * One scheduling step: prefill `prefill` now (their first tokens resolve `first`, in order); `chunk()` then
   * submits `steps` decode steps over `decode` (which lists the prefilled sequences too, at their spec.dst) and
   * resolves with (steps, decode.length) sampled ids. The caller awaits `first` before calling `chunk()`: a
   * readback resolves only once the queue is idle, so submitting the chunk at once would delay the first tokens
   * by the whole chunk. Logprob records ride in the same readbacks, only for the sequences that ask.
   */
  step(
    prefill: PrefillSeq[],
    decode: DecodeSeq[],
    steps: number,
  ): { first: Promise<Sampled>; chunk: () => Promise<Sampled> } {
    const dev = this.gpu.device;
    const { slots, context, maxChunk } = this.limits;
    const V = this.dims.V;
    const S = decode.length;
    if (S > slots || prefill.length > slots) {
      throw new Error(`Cannot decode ${S} sequences in ${slots} slots`);
    }
    if (steps > maxChunk) {
      throw new Error(`Cannot run ${steps} decode steps in one chunk: the limit is ${maxChunk}`);
    }
    prefill.forEach((p) => {
      if (decode[p.spec.dst]?.slot !== p.slot) {
        throw new Error(
          `Cannot prefill slot ${p.slot}: decode[${p.spec.dst}] must list it (its spec.dst), the sampler reads its slot there`,
        );
      }
    });
    // A slot's logit bias list sits at a fixed place of the bias buffer, written once by its prefill.
    const placed = (spec: GpuSampleSpec, slot: number): GpuSampleSpec => {
      const n = spec.logitBias?.length ?? 0;
      if (n > MAX_LOGIT_BIAS) {
        throw new RangeError(`Cannot sample with a logit bias of ${n} ids: the limit is ${MAX_LOGIT_BIAS}`);
      }
      return n > 0 ? { ...spec, biasOffset: slot * MAX_LOGIT_BIAS } : spec;
    };
    if (S > 0) {
      upload(dev, this.#dec.ids, Uint32Array.from(decode, (s) => s.token));
      upload(dev, this.#dec.rows, Uint32Array.from(decode.flatMap((s) => [s.slot, s.pos])));
      upload(dev, this.#dec.specs, packSpecs(decode.map((s, i) => ({ ...placed(s.spec, s.slot), dst: i }))));
    }
    let first = Promise.resolve(NOTHING);
    if (prefill.length > 0) {
      const R = prefill.reduce((n, s) => n + s.prompt.length, 0);
      if (R > this.rowsMax) {
        throw new Error(`Cannot prefill ${R} prompt tokens in one pass: the limit is ${this.rowsMax}`);
      }
      const ids = new Uint32Array(R);
      const rows = new Uint32Array(2 * R);
      const pick = new Uint32Array(prefill.length);
      let r = 0;
      prefill.forEach((s, i) => {
        if (s.prompt.length === 0 || s.prompt.length > context) {
          throw new Error(`Cannot prefill a prompt of ${s.prompt.length} tokens: 1 to ${context} fit`);
        }
        s.prompt.forEach((id, t) => {
          ids[r] = id;
          rows[2 * r] = s.slot;
          rows[2 * r + 1] = t;
          r++;
        });
        pick[i] = r - 1;
      });
      upload(dev, this.#pre.ids, ids);
      upload(dev, this.#pre.rows, rows);
      upload(dev, this.#pre.pick, pick);
      upload(dev, this.#pre.specs, packSpecs(prefill.map((s) => placed(s.spec, s.slot))));
      const state = slotWords(V);
      for (const s of prefill) {
        upload(dev, this.#seen, seenBitmap(s.prompt, V), s.slot * state * 4);
        if (s.spec.logitBias?.length) {
          upload(dev, this.#bias, packLogitBias(s.spec.logitBias), s.slot * MAX_LOGIT_BIAS * 2 * 4);
        }
        if (s.spec.presencePenalty || s.spec.frequencyPenalty) {
          upload(dev, this.#seen, new Uint32Array(V), (s.slot * state + seenWords(V)) * 4); // counts start at 0
        }
      }
      const t0 = performance.now();
      const batch = new CommandBatch(this.gpu, "prefill");
      this.#forward(batch, this.#pre.ids, this.#pre.rows, R);
      gatherRows(batch, {
        src: this.#a.n,
        pick: this.#pre.pick,
        dst: this.#a.hs,
        S: prefill.length,
        C: this.dims.C,
      });
      this.#head(batch, this.#a.hs, prefill.length);
      const out = this.#pre.out;
      sample(batch, {
        logits: this.#a.logits,
        specs: this.#pre.specs,
        ids: this.#dec.ids,
        out,
        rows: this.#dec.rows,
        seen: this.#seen,
        raw: this.#a.raw,
        bias: this.#bias,
        S: prefill.length,
        V,
        step: 0,
        lpBase: prefillLayout(slots).lpBase,
        decode: false,
      });
      const scored = this.#scorePrompts(batch, prefill, R);
      const words = prefillWords(prefill, R, slots, scored);
      first = batch.read(out, 0, words * 4).then((b) =>
        readPrefill(new Uint32Array(b), prefill, slots, scored, V)
      );
      const t1 = performance.now();
      batch.submit();
      this.stats.prefills++;
      this.stats.prefillRecordMs += t1 - t0;
      this.stats.prefillSubmitMs += performance.now() - t1;
    }
    const chunk = (): Promise<Sampled> => {
      if (S === 0 || steps === 0) return Promise.resolve(NOTHING);
      const t0 = performance.now();
      const program = this.#decodeProgram(S);
      const batch = new CommandBatch(this.gpu, "decode");
      // Every step is the same dispatch list: positions, RNG counters and output rows advance on the GPU.
      const pass = batch.encoder.beginComputePass({ label: `decode ${steps}×S=${S}` });
      for (let t = 0; t < steps; t++) program.encode(pass);
      pass.end();
      batch.dispatches += steps * program.dispatches;
      batch.passes++;
      if (debugLevel() >= 2) {
        console.error(`[gpu] decode: ${steps} steps × ${program.dispatches} dispatches (S=${S}), one pass`);
      }
      const specs = decode.map((s) => s.spec);
      const lpBase = maxChunk * S; // as the program's uniform says
      const read = batch.read(this.#dec.out, 0, decodeWords(specs, steps, lpBase) * 4)
        .then((b): Sampled => readDecode(new Uint32Array(b), specs, steps, lpBase, V));
      const t1 = performance.now();
      batch.submit();
      const st = this.stats;
      st.chunks++;
      st.steps += steps;
      st.chunkDispatches += batch.dispatches;
      st.chunkRecordMs += t1 - t0;
      st.chunkSubmitMs += performance.now() - t1;
      return read;
    };
    return { first, chunk };
  }

  /**
   * Records the prompt scoring of the prefilled sequences that ask for it (logprobs.ts: the head over the prefill
   * rows in pieces, so the logits never need (R,V) floats). Returns whether anything was scored.
   */
  #scorePrompts(batch: CommandBatch, prefill: PrefillSeq[], R: number): boolean {
    const scoring = promptTargets(prefill, R);
    if (!scoring) return false;
    const { C, V } = this.dims;
    upload(this.gpu.device, this.#pre.targets, scoring.targets);
    this.#promptLogits ??= createBuffer(this.gpu.device, "serve prompt logits", this.#piece * V * F32);
    scorePromptRows(batch, {
      n: this.#a.n,
      head: this.#w(this.model.tie_embeddings ? "embed.weight" : "head.weight"),
      logits: this.#promptLogits,
      targets: this.#pre.targets,
      out: this.#pre.out,
      lpBase: prefillLayout(this.limits.slots).promptBase,
      rowTargets: scoring.targets,
      topN: scoring.topN,
      R,
      C,
      V,
      piece: this.#piece,
    });
    return true;
  }

  /** Releases every GPU buffer (the parameters too unless `keepParams`). */
  destroy(keepParams = false): void {
    destroyEngineBuffers(this.#buffers);
    for (const p of this.#programs.values()) p.destroy();
    this.#programs.clear();
    this.#promptLogits?.destroy();
    if (!keepParams) this.params.destroy();
  }
}
