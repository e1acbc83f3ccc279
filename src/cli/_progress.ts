/**
 * The training progress bar: a pure renderer of the one status line (step, loss, lr, grad norm, tokens/s, ETA) and
 * a small writer that redraws it in place on a TTY and keeps other lines (eval, samples, checkpoints) from landing
 * on top of it. Not the trainer's logging (src/train/trainer.ts hooks call into this).
 */
import { formatDuration } from "../duration.ts";

export { formatDuration };

/** What one progress line shows. */
export interface ProgressPoint {
  step: number;
  maxSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  /** Estimated seconds left (NaN when unknown). */
  etaSeconds: number;
  /** The log point's extra metrics: under AMP `train/loss_scale` and `train/skipped_steps` are shown. */
  extra?: Record<string, number>;
}

/** "  scale 2^16  skipped 3" under float16 AMP (skipped only when some were), "" otherwise. */
function ampSuffix(extra: Record<string, number> | undefined): string {
  const scale = extra?.["train/loss_scale"];
  if (scale === undefined) return "";
  const log2 = Math.log2(scale);
  const skipped = extra?.["train/skipped_steps"] ?? 0;
  return `  scale ${Number.isInteger(log2) ? `2^${log2}` : scale.toPrecision(3)}` +
    (skipped > 0 ? `  skipped ${skipped}` : "");
}

/**
 * Seconds left at the pace of the last few log points rather than the average since the start, which the first
 * interval (pipeline compilation, kernel tuning, the first evaluation) skews for minutes: e.g. "8m45s" for a run
 * that took 3m10s. Evaluations stay in the pace, since the remaining steps have theirs too.
 */
export class EtaEstimator {
  #points: [step: number, seconds: number][] = [];

  constructor(readonly window = 5) {}

  /** Records that `step` was reached `seconds` after training started; returns the seconds left to `maxSteps`. */
  add(step: number, seconds: number, startStep: number, maxSteps: number): number {
    this.#points.push([step, seconds]);
    if (this.#points.length > this.window + 1) this.#points.shift();
    // Until two points exist, the average since the start is all there is.
    if (this.#points.length < 2) return estimateEta(step, startStep, maxSteps, seconds);
    const [s0, t0] = this.#points[0];
    const rate = (seconds - t0) / (step - s0);
    return step > s0 && rate >= 0 ? Math.max(0, maxSteps - step) * rate : NaN;
  }
}

/**
 * A line every `everyMs` while a long phase (an evaluation, a benchmark's steps) runs, with its pace and ETA, so a
 * slow adapter never leaves the terminal silent for minutes. Counts from the `base` items done when it was created.
 */
export class PhaseProgress {
  #start: number;
  #last: number;

  constructor(
    readonly label: string,
    readonly print: (line: string) => void,
    readonly base = 0,
    readonly everyMs = 5000,
    now = performance.now(),
  ) {
    this.#start = now;
    this.#last = now;
  }

  /** Prints "<label>: k/N, 12s so far, ETA 40s" when `everyMs` has passed since the last line (never at the end). */
  tick(done: number, total: number, now = performance.now()): void {
    if (now - this.#last < this.everyMs || done >= total || done <= this.base) return;
    this.#last = now;
    const elapsed = (now - this.#start) / 1000;
    const eta = (elapsed / (done - this.base)) * (total - done);
    this.print(
      `${this.label}: ${done}/${total}, ${formatDuration(elapsed)} so far, ETA ${formatDuration(eta)}`,
    );
  }
}

/**
 * Estimated seconds left: the remaining steps at the average pace since training started (evaluations included,
 * since the remaining steps have theirs too).
 */
export function estimateEta(
  step: number,
  startStep: number,
  maxSteps: number,
  elapsedSeconds: number,
): number {
  const done = step - startStep;
  if (done <= 0) return NaN;
  return (Math.max(0, maxSteps - step) * elapsedSeconds) / done;
}

/**
 * The progress line, cut to `columns - 1` characters when given so it never wraps (a wrapped line cannot be
 * cleared with one carriage return).
 */
export function renderProgress(p: ProgressPoint, columns?: number): string {
  const width = String(p.maxSteps).length;
  const line = `step ${String(p.step).padStart(width)}/${p.maxSteps}  loss ${p.loss.toFixed(4)}  ` +
    `lr ${p.lr.toExponential(2)}  grad ${p.gradNorm.toFixed(3)}  ` +
    `${Math.round(p.tokensPerSec).toLocaleString("en-US")} tok/s  ETA ${formatDuration(p.etaSeconds)}` +
    ampSuffix(p.extra);
  return columns !== undefined && columns > 1 && line.length > columns - 1
    ? line.slice(0, columns - 1)
    : line;
}

/** Control characters that move the cursor (not tab, newline or ESC, which colors use). */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]/g;

/** `text` with every control character (ESC and newlines included) turned into a space: for generated samples. */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  return text.replace(/[\x00-\x1f\x7f]/g, " ");
}

/**
 * One status line at the bottom of the output. On a TTY `update` redraws it in place and `print` clears it, prints
 * a line and draws it again; elsewhere `update` prints each status as its own line and nothing is ever erased.
 */
export class ProgressLine {
  #bar = "";

  constructor(
    readonly write: (text: string) => void,
    readonly tty: boolean,
    readonly columns: () => number | undefined = () => undefined,
  ) {}

  /** Shows `p` as the current status. */
  update(p: ProgressPoint): void {
    const line = renderProgress(p, this.tty ? this.columns() : undefined);
    if (!this.tty) return this.write(line + "\n");
    this.#bar = line;
    this.write(`\r\x1b[2K${line}`);
  }

  /** Prints `text` (one or more lines) above the status line. */
  print(text: string): void {
    const clean = text.replace(/\r\n?/g, "\n").replace(CONTROL, " ");
    if (!this.tty) return this.write(clean + "\n");
    this.write(`\r\x1b[2K${clean}\n${this.#bar}`);
  }

  /** Runs `fn` (which writes elsewhere, e.g. a warning on stderr) with the status line lifted out of its way. */
  interrupt(fn: () => void): void {
    if (this.tty && this.#bar) this.write("\r\x1b[2K");
    fn();
    if (this.tty && this.#bar) this.write(this.#bar);
  }

  /** Erases the status line for good (before the final summary). */
  clear(): void {
    if (this.tty && this.#bar) this.write("\r\x1b[2K");
    this.#bar = "";
  }
}
