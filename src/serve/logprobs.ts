/**
 * The inference engine's logprob plumbing: where the prefill and decode output buffers keep sampled ids and their
 * logprob records, decoding a readback into both, and scoring prompt rows after a prefill (the head over the
 * prefill rows in pieces, then each row's record at its next prompt id). Not the kernels (src/kernels/sample.ts)
 * and not the text side (service.ts).
 */
import type { Binding, CommandBatch } from "../gpu/mod.ts";
import { matmul } from "../kernels/matmul.ts";
import {
  type GpuSampleSpec,
  LOGPROB_WORDS,
  NO_TARGET,
  promptLogprobs,
  readLogprob,
} from "../kernels/sample.ts";
import type { TokenLogprob } from "../kernels/contracts.ts";
import type { PrefillSeq } from "./engine.ts";

/** What one readback brings: sampled ids and, for the sequences that asked, their logprob records. */
export interface Sampled {
  /** (steps, S) ids, step t of sequence i at t·S + i (a prefill: one per prefilled sequence). */
  ids: Uint32Array;
  /** Same layout: each id's record where its sequence's spec has `logprobs`, else null; null when none has. */
  logprobs: (TokenLogprob | null)[] | null;
  /** Prefill: per prefilled sequence, its prompt tokens' records (tokens 1..n−1) if it set scorePrompt, else null. */
  prompt: (TokenLogprob[] | null)[] | null;
}

/** Nothing sampled. */
export const NOTHING: Sampled = { ids: new Uint32Array(0), logprobs: null, prompt: null };

/** Prompt logits one scoring matmul writes by default: ~64 MiB of f32. */
const PROMPT_LOGITS_FLOATS = 1 << 24;

/** The (steps, specs.length) records of `records`, decoded where the spec asks for logprobs. */
function decodeRecords(records: Uint32Array, specs: GpuSampleSpec[], steps: number, V: number) {
  const S = specs.length;
  return Array.from({ length: steps * S }, (_, i) => {
    const n = specs[i % S].logprobs;
    return n === undefined ? null : readLogprob(records, i, n, V);
  });
}

/** u32 words of a decode chunk's out buffer to read: the ids, and the records only when a sequence asks. */
export function decodeWords(specs: GpuSampleSpec[], steps: number, lpBase: number): number {
  const S = specs.length;
  return specs.some((s) => s.logprobs !== undefined) ? lpBase + steps * S * LOGPROB_WORDS : steps * S;
}

/** A decode chunk's readback: (steps, S) ids from word 0, their records from word lpBase. */
export function readDecode(
  all: Uint32Array,
  specs: GpuSampleSpec[],
  steps: number,
  lpBase: number,
  V: number,
) {
  const lp = specs.some((s) => s.logprobs !== undefined);
  const logprobs = lp ? decodeRecords(all.subarray(lpBase), specs, steps, V) : null;
  return { ids: all.slice(0, steps * specs.length), logprobs, prompt: null };
}

/**
 * Where a prefill writes in pre.out (engine_buffers.ts): S ids from word 0, their records from `lpBase` = slots,
 * prompt-row records from `promptBase`.
 */
export function prefillLayout(slots: number): { lpBase: number; promptBase: number } {
  return { lpBase: slots, promptBase: slots * (1 + LOGPROB_WORDS) };
}

/** u32 words of pre.out to read after a prefill of R rows (`scored`: prompt rows were scored). */
export function prefillWords(prefill: PrefillSeq[], R: number, slots: number, scored: boolean): number {
  const { lpBase, promptBase } = prefillLayout(slots);
  if (scored) return promptBase + R * LOGPROB_WORDS;
  if (prefill.some((s) => s.spec.logprobs !== undefined)) return lpBase + prefill.length * LOGPROB_WORDS;
  return prefill.length;
}

/** A prefill's readback: the first ids, their records, and each scoring sequence's prompt records. */
export function readPrefill(
  all: Uint32Array,
  prefill: PrefillSeq[],
  slots: number,
  scored: boolean,
  V: number,
) {
  const { lpBase, promptBase } = prefillLayout(slots);
  const specs = prefill.map((s) => s.spec);
  const lp = specs.some((s) => s.logprobs !== undefined);
  let row = 0;
  const prompt = !scored ? null : prefill.map((s) => {
    const start = row;
    row += s.prompt.length;
    if (!s.scorePrompt) return null;
    const records = all.subarray(promptBase);
    const n = s.spec.logprobs ?? 0;
    return Array.from({ length: s.prompt.length - 1 }, (_, t) => readLogprob(records, start + t, n, V));
  });
  return {
    ids: all.slice(0, prefill.length),
    logprobs: lp ? decodeRecords(all.subarray(lpBase), specs, 1, V) : null,
    prompt,
  };
}

/**
 * The prefill rows to score: targets (R) holds each scoring sequence's next prompt id per row (NO_TARGET for its
 * last row and for the other sequences' rows), topN the most top entries any of them asks; null when none scores.
 */
export function promptTargets(
  prefill: PrefillSeq[],
  R: number,
): { targets: Uint32Array; topN: number } | null {
  if (!prefill.some((s) => s.scorePrompt)) return null;
  const targets = new Uint32Array(R).fill(NO_TARGET);
  let r = 0;
  let topN = 0;
  for (const s of prefill) {
    if (s.scorePrompt) {
      for (let t = 0; t + 1 < s.prompt.length; t++) targets[r + t] = s.prompt[t + 1];
      topN = Math.max(topN, s.spec.logprobs ?? 0);
    }
    r += s.prompt.length;
  }
  return { targets, topN };
}

/** Rows one scoring matmul covers: `rows` if set, else what ~64 MiB of logits hold; a multiple of 64 either way. */
export function promptPieceRows(rows: number | undefined, rowsMax: number, V: number): number {
  if (rows !== undefined) {
    if (!(rows > 0 && rows % 64 === 0)) {
      throw new RangeError(`Cannot score prompts in pieces of ${rows} rows: use a multiple of 64`);
    }
    return rows;
  }
  return Math.min(Math.ceil(rowsMax / 64) * 64, Math.max(64, Math.floor(PROMPT_LOGITS_FLOATS / V / 64) * 64));
}

/** One prompt scoring: the final-norm rows n (R,C) of a prefill and where the records go. */
export interface ScoreArgs {
  /** (R,C) the prefill's normed rows */
  n: GPUBuffer;
  /** (V,C) the output head */
  head: Binding;
  /** (piece,V) scratch logits */
  logits: GPUBuffer;
  /** u32 (R) uploaded from promptTargets */
  targets: GPUBuffer;
  /** u32: row r's record lands at lpBase + r·LOGPROB_WORDS */
  out: GPUBuffer;
  lpBase: number;
  /** From promptTargets; only pieces with a target are run. */
  rowTargets: Uint32Array;
  topN: number;
  R: number;
  C: number;
  V: number;
  piece: number;
}

/** Records the head and the prompt_logprobs dispatch for each piece of rows that holds a target. */
export function scorePromptRows(batch: CommandBatch, a: ScoreArgs): void {
  for (let row0 = 0; row0 < a.R; row0 += a.piece) {
    const rows = Math.min(a.piece, a.R - row0);
    if (a.rowTargets.subarray(row0, row0 + rows).every((t) => t === NO_TARGET)) continue;
    // A piece starts at a multiple of 64 rows: a storage binding offset stays 256-byte aligned.
    const x = { buffer: a.n, offset: row0 * a.C * 4, size: rows * a.C * 4 };
    matmul(batch, { a: x, b: a.head, c: a.logits, M: rows, K: a.C, N: a.V, transB: true });
    promptLogprobs(batch, {
      logits: a.logits,
      targets: a.targets,
      out: a.out,
      R: rows,
      V: a.V,
      row0,
      lpBase: a.lpBase,
      topN: a.topN,
    });
  }
}
