/**
 * Progress lines for a pass over a corpus (tokenizer training, token files): at most one line every few seconds,
 * with how far it is and, once a few percent are done, an ETA from the pace so far. Silent for passes shorter than
 * the first interval. Not the trainer's progress bar (src/cli/_progress.ts).
 */
import type { CorpusSource } from "./corpus.ts";
import { formatDuration } from "../duration.ts";

/** Counts documents and characters of a pass over `sources` and logs its progress every `everyMs`. */
export class CorpusProgress {
  docs = 0;
  chars = 0;
  #start = performance.now();
  #last = performance.now();
  #bytes: number; // of the file sources: the characters' yardstick (0: none, or some are built in)
  #stories: number; // of the built-in sources: the documents' yardstick (0: none, or some are files)

  constructor(
    readonly label: string,
    sources: readonly CorpusSource[],
    readonly log: (line: string) => void,
    /** Characters the pass stops at (a tokenizer's sample cap), if fewer than the corpus has. */
    capChars = Infinity,
    readonly everyMs = 5000,
  ) {
    const files = sources.filter((s) => s.kind === "file");
    const builtin = sources.filter((s) => s.kind === "builtin");
    this.#bytes = builtin.length === 0 ? Math.min(capChars, files.reduce((n, s) => n + s.size, 0)) : 0;
    this.#stories = files.length === 0 ? builtin.reduce((n, s) => n + s.stories, 0) : 0;
  }

  /** The share done (0 to 1), or NaN when the corpus's size is unknown. */
  get fraction(): number {
    if (this.#bytes > 0) return Math.min(1, this.chars / this.#bytes);
    if (this.#stories > 0) return Math.min(1, this.docs / this.#stories);
    return NaN;
  }

  /** Counts one document and logs when the interval has passed. */
  add(doc: string, extra?: () => string): void {
    this.docs++;
    this.chars += doc.length;
    const now = performance.now();
    if (now - this.#last < this.everyMs) return;
    this.#last = now;
    const f = this.fraction;
    const elapsed = (now - this.#start) / 1000;
    const pct = Number.isFinite(f) ? ` (${(100 * f).toFixed(0)} %` : "";
    const eta = Number.isFinite(f) && f >= 0.02
      ? `, ETA ${formatDuration((elapsed * (1 - f)) / f)})`
      : pct
      ? ")"
      : "";
    this.log(
      `${this.label}: ${this.docs.toLocaleString("en-US")} documents, ` +
        `${this.chars.toLocaleString("en-US")} characters${extra ? `, ${extra()}` : ""}${pct}${eta}, ` +
        `${formatDuration(elapsed)} so far`,
    );
  }
}
