/**
 * A byte-level BPE tokenizer that encodes exactly as Hugging Face tokenizers does for the same tokenizer.json:
 * added tokens split out first, then the GPT-2 regex, then BPE merges by rank inside each pre-token (cached).
 * Not the merge learner (bpe_train.ts) nor the file format (tokenizer_json.ts).
 */
import { UsageError } from "../errors.ts";
import { BYTE_TO_CHAR, GPT2_PATTERN, tokenStringToBytes } from "./byte_level.ts";

/** The document separator every storyteller tokenizer has. */
export const END_OF_TEXT = "<|endoftext|>";

/** A token added outside the BPE model (HF `added_tokens`), matched literally before pre-tokenization. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** Everything a tokenizer is made of, spelled as tokenizer.json spells it. */
export interface TokenizerParts {
  /** id → byte-level token string (GPT-2 stand-in characters); holes where only an added token has the id. */
  vocab: (string | undefined)[];
  /** Merges in rank order, each a pair of byte-level token strings. */
  merges: [string, string][];
  added: AddedToken[];
  /** HF `ignore_merges`: a pre-token that is itself in the vocab becomes that one token. */
  ignoreMerges?: boolean;
  /** HF ByteLevel `add_prefix_space`: prepend a space to each segment that does not start with one. */
  addPrefixSpace?: boolean;
  /** Pre-tokenization pattern (`g` flag); null = the whole segment is one pre-token. Default: GPT-2's. */
  pattern?: RegExp | null;
}

const CACHE_LIMIT = 1 << 19;
/** Pieces longer than this take the heap path: linear-log instead of quadratic in the piece length. */
const LONG_PIECE = 64;

/** Byte-level BPE with a pre-token cache. Build it with `trainBpe`, `parseTokenizerJson` or `loadTokenizer`. */
export class Tokenizer {
  /** Largest id + 1: the embedding rows a model needs. */
  readonly vocabSize: number;
  /** Id of `<|endoftext|>`, or null for a tokenizer without it. */
  readonly eotId: number | null;
  readonly parts: Readonly<TokenizerParts>;

  #tokenBytes: Uint8Array[];
  #byteIds = new Int32Array(256);
  /** pair key (left * vocabSize + right) → merge rank */
  #ranks = new Map<number, number>();
  /** rank → id of the merged token */
  #mergeIds: Int32Array;
  #vocabIds = new Map<string, number>();
  #special: RegExp | null;
  #addedIds = new Map<string, number>();
  #specialIds = new Set<number>();
  #pattern: RegExp | null;
  #cache = new Map<string, Int32Array>();
  #scratch = new Uint8Array(256);
  #encoder = new TextEncoder();
  #decoder = new TextDecoder();

  constructor(parts: TokenizerParts) {
    this.parts = parts;
    this.#pattern = parts.pattern === undefined ? GPT2_PATTERN : parts.pattern;
    let size = parts.vocab.length;
    for (const a of parts.added) size = Math.max(size, a.id + 1);
    this.vocabSize = size;
    this.#tokenBytes = new Array<Uint8Array>(size).fill(new Uint8Array(0));
    parts.vocab.forEach((tok, id) => {
      if (tok === undefined) return;
      const bytes = tokenStringToBytes(tok);
      if (bytes === null) {
        throw new UsageError(`Cannot load tokenizer: token ${id} '${tok}' is not a byte-level token`, {
          hint: "only byte-level BPE tokenizers (GPT-2 style) are supported",
        });
      }
      this.#tokenBytes[id] = bytes;
      this.#vocabIds.set(tok, id);
    });
    for (let b = 0; b < 256; b++) {
      const id = this.#vocabIds.get(BYTE_TO_CHAR[b]);
      if (id === undefined) {
        throw new UsageError(
          `Cannot load tokenizer: byte 0x${b.toString(16).padStart(2, "0")} has no token`,
          {
            hint: "a byte-level BPE vocabulary holds all 256 byte tokens",
          },
        );
      }
      this.#byteIds[b] = id;
    }
    this.#mergeIds = new Int32Array(parts.merges.length);
    parts.merges.forEach(([l, r], rank) => {
      const a = this.#vocabIds.get(l), b = this.#vocabIds.get(r), m = this.#vocabIds.get(l + r);
      if (a === undefined || b === undefined || m === undefined) {
        throw new UsageError(
          `Cannot load tokenizer: merge ${rank} '${l} ${r}' uses a token missing from the vocab`,
        );
      }
      const key = a * size + b;
      if (!this.#ranks.has(key)) this.#ranks.set(key, rank);
      this.#mergeIds[rank] = m;
    });
    for (const a of parts.added) {
      this.#addedIds.set(a.content, a.id);
      if (a.special) this.#specialIds.add(a.id);
      if (this.#tokenBytes[a.id].length === 0) this.#tokenBytes[a.id] = this.#encoder.encode(a.content);
    }
    const contents = [...this.#addedIds.keys()].sort((x, y) => y.length - x.length);
    this.#special = contents.length === 0
      ? null
      : new RegExp(`(${contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`);
    this.eotId = this.#addedIds.get(END_OF_TEXT) ?? this.#vocabIds.get(END_OF_TEXT) ?? null;
  }

  /** Number of learned merges. */
  get mergeCount(): number {
    return this.parts.merges.length;
  }

  /** Token ids of `text`; added tokens such as `<|endoftext|>` written in the text become their ids. */
  encode(text: string): number[] {
    const out: number[] = [];
    this.encodeTo(text, out);
    return out;
  }

  /** Appends the ids of `text` to `out` (no intermediate arrays: the corpus tokenizer's path). */
  encodeTo(text: string, out: number[]): void {
    if (this.#special === null) return this.#encodeOrdinary(text, out);
    const parts = text.split(this.#special);
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 1) out.push(this.#addedIds.get(parts[i])!);
      else if (parts[i].length > 0) this.#encodeOrdinary(parts[i], out);
    }
  }

  /** Text of `ids`; bytes that do not form valid UTF-8 become U+FFFD. */
  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.tokenBytes(ids[i]).length;
    const buf = new Uint8Array(n);
    n = 0;
    for (let i = 0; i < ids.length; i++) {
      if (opts.skipSpecial && this.#specialIds.has(ids[i])) continue;
      const b = this.tokenBytes(ids[i]);
      buf.set(b, n);
      n += b.length;
    }
    return this.#decoder.decode(buf.subarray(0, n));
  }

  /** The bytes token `id` stands for (an added token's UTF-8 content). */
  tokenBytes(id: number): Uint8Array {
    const b = this.#tokenBytes[id];
    if (b === undefined) {
      throw new RangeError(`Cannot decode token ${id}: the vocabulary has ${this.vocabSize} ids`);
    }
    return b;
  }

  /** Whether `id` is a special token (decode skips it with `skipSpecial`). */
  isSpecial(id: number): boolean {
    return this.#specialIds.has(id);
  }

  #encodeOrdinary(text: string, out: number[]): void {
    if (this.parts.addPrefixSpace && !text.startsWith(" ")) text = " " + text;
    const pieces = this.#pattern === null ? [text] : text.match(this.#pattern);
    if (pieces === null) return;
    const cache = this.#cache;
    for (let p = 0; p < pieces.length; p++) {
      const piece = pieces[p];
      let ids = cache.get(piece);
      if (ids === undefined) {
        ids = this.#bpe(piece);
        if (cache.size >= CACHE_LIMIT) cache.clear();
        cache.set(piece, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  /** BPE inside one pre-token: repeatedly merge the lowest-ranked adjacent pair, leftmost first (as HF does). */
  #bpe(piece: string): Int32Array {
    if (this.#scratch.length < piece.length * 3) this.#scratch = new Uint8Array(piece.length * 3);
    const n = this.#encoder.encodeInto(piece, this.#scratch).written;
    const syms = new Int32Array(n);
    for (let i = 0; i < n; i++) syms[i] = this.#byteIds[this.#scratch[i]];
    if (this.parts.ignoreMerges) {
      let s = "";
      for (let i = 0; i < n; i++) s += BYTE_TO_CHAR[this.#scratch[i]];
      const whole = this.#vocabIds.get(s);
      if (whole !== undefined) return Int32Array.of(whole);
    }
    return n > LONG_PIECE ? this.#mergeLong(syms) : this.#mergeShort(syms);
  }

  #mergeShort(syms: Int32Array): Int32Array {
    const ranks = this.#ranks, size = this.vocabSize;
    let len = syms.length;
    while (len > 1) {
      let best = Infinity, at = -1;
      for (let i = 0; i < len - 1; i++) {
        const r = ranks.get(syms[i] * size + syms[i + 1]);
        if (r !== undefined && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      syms[at] = this.#mergeIds[best];
      syms.copyWithin(at + 1, at + 2, len);
      len--;
    }
    return syms.slice(0, len);
  }

  /** Linked list of symbols plus a min-heap of (rank, position): HF's merge_word. */
  #mergeLong(syms: Int32Array): Int32Array {
    const n = syms.length, ranks = this.#ranks, size = this.vocabSize;
    const next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap: number[] = [];
    const push = (i: number) => {
      const j = next[i];
      if (i < 0 || j < 0) return;
      const r = ranks.get(syms[i] * size + syms[j]);
      if (r !== undefined) heapPush(heap, r * 2 ** 32 + i);
    };
    for (let i = 0; i < n - 1; i++) push(i);
    while (heap.length > 0) {
      const top = heapPop(heap);
      const rank = Math.floor(top / 2 ** 32), i = top % 2 ** 32;
      const j = next[i];
      if (syms[i] < 0 || j < 0 || ranks.get(syms[i] * size + syms[j]) !== rank) continue;
      syms[i] = this.#mergeIds[rank];
      syms[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      push(prev[i]);
      push(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(syms[i]);
    return Int32Array.from(out);
  }
}

function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] <= v) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0], last = h.pop()!;
  if (h.length === 0) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= h.length) break;
    const c = l + 1 < h.length && h[l + 1] < h[l] ? l + 1 : l;
    if (h[c] >= last) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = last;
  return top;
}
