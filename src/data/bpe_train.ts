/**
 * Learning byte-level BPE merges: count GPT-2 pre-tokens once, then merge the most frequent adjacent pair until the
 * vocabulary is full, updating pair counts only in the words that held the merged pair (a max-heap with lazy
 * re-checks picks the next pair). Ties go to the smaller (left id, right id), so training is deterministic.
 */
import { UsageError } from "../errors.ts";
import { BYTE_TO_CHAR, GPT2_PATTERN } from "./byte_level.ts";
import { END_OF_TEXT, Tokenizer } from "./tokenizer.ts";

/** Pre-token frequencies of a corpus: the only thing merge learning reads. */
export class PreTokenCounts {
  readonly counts = new Map<string, number>();
  /** UTF-16 code units counted so far (a cheap stand-in for bytes when capping the sample). */
  chars = 0;

  /** Counts the pre-tokens of one document; `<|endoftext|>` written inside it is skipped. */
  add(doc: string): void {
    this.chars += doc.length;
    for (const part of doc.includes(END_OF_TEXT) ? doc.split(END_OF_TEXT) : [doc]) {
      const pieces = part.match(GPT2_PATTERN);
      if (pieces === null) continue;
      const counts = this.counts;
      for (let i = 0; i < pieces.length; i++) counts.set(pieces[i], (counts.get(pieces[i]) ?? 0) + 1);
    }
  }
}

export interface BpeTrainOptions {
  /** Total ids: 256 byte tokens + special tokens + learned merges. */
  vocabSize: number;
  /** Special tokens, ids right after the bytes (default: `<|endoftext|>` only). */
  specials?: string[];
}

/** Learns merges from pre-token counts; the result may be smaller than vocabSize when the corpus runs out of pairs. */
export function trainBpe(pre: PreTokenCounts, opts: BpeTrainOptions): Tokenizer {
  const specials = opts.specials ?? [END_OF_TEXT];
  const V = opts.vocabSize;
  if (V < 256 + specials.length) {
    throw new UsageError(`Cannot train tokenizer: vocab size ${V} is below ${256 + specials.length}`, {
      hint: "a byte-level BPE vocabulary holds 256 byte tokens plus the special tokens; use at least 512",
    });
  }
  const vocab: string[] = [...BYTE_TO_CHAR, ...specials];
  const ids = new Map<string, number>(vocab.map((t, i) => [t, i]));
  const merges: [string, string][] = [];

  // Words as symbol arrays, each with its corpus frequency.
  const encoder = new TextEncoder();
  const words: Int32Array[] = [], lens: number[] = [], freq: number[] = [];
  for (const [piece, count] of pre.counts) {
    const bytes = encoder.encode(piece);
    if (bytes.length < 2) continue;
    words.push(Int32Array.from(bytes));
    lens.push(bytes.length);
    freq.push(count);
  }

  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>();
  for (let w = 0; w < words.length; w++) {
    const s = words[w];
    for (let i = 0; i + 1 < lens[w]; i++) {
      const key = s[i] * V + s[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + freq[w]);
      const list = where.get(key);
      if (list === undefined) where.set(key, [w]);
      else if (list[list.length - 1] !== w) list.push(w);
    }
  }
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  const stamp = new Int32Array(words.length).fill(-1);
  let round = 0;
  while (vocab.length < V && heap.size > 0) {
    const [c, key] = heap.pop();
    const actual = pairCount.get(key) ?? 0;
    if (actual === 0) continue;
    if (actual !== c) {
      heap.push(actual, key);
      continue;
    }
    const a = Math.floor(key / V), b = key % V;
    const text = vocab[a] + vocab[b];
    let m = ids.get(text);
    if (m === undefined) {
      m = vocab.length;
      vocab.push(text);
      ids.set(text, m);
    }
    merges.push([vocab[a], vocab[b]]);
    round++;

    const delta = new Map<number, number>();
    const list = where.get(key)!;
    where.delete(key);
    pairCount.delete(key);
    for (const w of list) {
      if (stamp[w] === round) continue;
      stamp[w] = round;
      const s = words[w], len = lens[w], f = freq[w];
      let found = false;
      for (let i = 0; i + 1 < len; i++) if (s[i] === a && s[i + 1] === b) found = true;
      if (!found) continue;
      for (let i = 0; i + 1 < len; i++) addDelta(delta, s[i] * V + s[i + 1], -f);
      let j = 0;
      for (let i = 0; i < len; i++) {
        if (i + 1 < len && s[i] === a && s[i + 1] === b) {
          s[j++] = m;
          i++;
        } else s[j++] = s[i];
      }
      lens[w] = j;
      for (let i = 0; i + 1 < j; i++) {
        const k = s[i] * V + s[i + 1];
        addDelta(delta, k, f);
        if (s[i] === m || s[i + 1] === m) {
          const l = where.get(k);
          if (l === undefined) where.set(k, [w]);
          else if (l[l.length - 1] !== w) l.push(w);
        }
      }
    }
    delta.delete(key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const next = (pairCount.get(k) ?? 0) + d;
      if (next <= 0) pairCount.delete(k);
      else pairCount.set(k, next);
      if (d > 0) heap.push(next, k);
    }
  }
  return new Tokenizer({
    vocab,
    merges,
    added: specials.map((content, i) => ({ id: 256 + i, content, special: true })),
  });
}

function addDelta(delta: Map<number, number>, key: number, d: number): void {
  delta.set(key, (delta.get(key) ?? 0) + d);
}

/** Max-heap of (count, pair key); equal counts pop the smaller key first. */
class PairHeap {
  #counts: number[] = [];
  #keys: number[] = [];

  get size(): number {
    return this.#counts.length;
  }

  #before(i: number, j: number): boolean {
    const ci = this.#counts[i], cj = this.#counts[j];
    return ci > cj || (ci === cj && this.#keys[i] < this.#keys[j]);
  }

  #swap(i: number, j: number): void {
    const c = this.#counts[i], k = this.#keys[i];
    this.#counts[i] = this.#counts[j];
    this.#keys[i] = this.#keys[j];
    this.#counts[j] = c;
    this.#keys[j] = k;
  }

  push(count: number, key: number): void {
    this.#counts.push(count);
    this.#keys.push(key);
    let i = this.#counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#before(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.#counts[0], this.#keys[0]];
    const n = this.#counts.length - 1;
    this.#swap(0, n);
    this.#counts.pop();
    this.#keys.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let best = i;
      if (l < n && this.#before(l, best)) best = l;
      if (r < n && this.#before(r, best)) best = r;
      if (best === i) break;
      this.#swap(i, best);
      i = best;
    }
    return top;
  }
}
