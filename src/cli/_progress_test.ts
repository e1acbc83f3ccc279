import assert from "node:assert/strict";
import {
  estimateEta,
  EtaEstimator,
  formatDuration,
  PhaseProgress,
  printable,
  ProgressLine,
  type ProgressPoint,
  renderProgress,
} from "./_progress.ts";

const point: ProgressPoint = {
  step: 20,
  maxSteps: 300,
  loss: 5.66612,
  lr: 0.003,
  gradNorm: 0.5681,
  tokensPerSec: 1157.4,
  etaSeconds: 130,
};

Deno.test("renderProgress shows step, loss, lr, grad norm, tokens/s and ETA on one line", () => {
  assert.equal(
    renderProgress(point),
    "step  20/300  loss 5.6661  lr 3.00e-3  grad 0.568  1,157 tok/s  ETA 2m10s",
  );
  assert.equal(renderProgress({ ...point, etaSeconds: NaN }).slice(-5), "ETA ?");
});

Deno.test("renderProgress shows the AMP loss scale, and skipped steps when there were some", () => {
  const amp = (scale: number, skipped: number) => ({
    "train/loss_scale": scale,
    "train/skipped_steps": skipped,
  });
  assert.equal(renderProgress({ ...point, extra: amp(65536, 0) }).slice(-12), "  scale 2^16");
  assert.equal(renderProgress({ ...point, extra: amp(32768, 3) }).slice(-23), "  scale 2^15  skipped 3");
  assert.equal(renderProgress({ ...point, extra: { "moe/layer_0_balance": 1 } }), renderProgress(point));
});

Deno.test("renderProgress never wraps: cut to the terminal width minus one", () => {
  assert.equal(renderProgress(point, 40).length, 39);
  assert.equal(renderProgress(point, 200), renderProgress(point));
});

Deno.test("formatDuration and estimateEta", () => {
  assert.equal(formatDuration(7.4), "7s");
  assert.equal(formatDuration(59.6), "1m00s");
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(-1), "?");
  assert.equal(estimateEta(20, 0, 300, 10), 140);
  assert.equal(estimateEta(120, 100, 300, 10), 90); // resumed at 100: pace from the steps run here
  assert.ok(Number.isNaN(estimateEta(100, 100, 300, 10)));
});

Deno.test("on a TTY the bar redraws in place and printed lines go above it", () => {
  const out: string[] = [];
  const bar = new ProgressLine((s) => out.push(s), true, () => 80);
  bar.update(point);
  bar.update({ ...point, step: 30 });
  bar.print("eval step 30: val loss 5.0\r\nsample: x\x07y");
  bar.clear();
  const line30 = renderProgress({ ...point, step: 30 });
  assert.deepEqual(out, [
    `\r\x1b[2K${renderProgress(point)}`,
    `\r\x1b[2K${line30}`,
    `\r\x1b[2Keval step 30: val loss 5.0\nsample: x y\n${line30}`,
    "\r\x1b[2K",
  ]);
});

Deno.test("without a TTY every status is its own line and nothing is erased", () => {
  const out: string[] = [];
  const bar = new ProgressLine((s) => out.push(s), false, () => 20);
  bar.update(point);
  bar.print("eval");
  bar.clear();
  assert.deepEqual(out, [`${renderProgress(point)}\n`, "eval\n"]);
  assert.ok(!out.join("").includes("\x1b"));
});

Deno.test("printable turns control characters of generated text into spaces", () => {
  assert.equal(printable("a\nb\x1b[2Jc\rd"), "a b [2Jc d");
});

Deno.test("interrupt lifts the status line out of the way of another writer and redraws it", () => {
  const out: string[] = [];
  const bar = new ProgressLine((s) => out.push(s), true);
  bar.interrupt(() => out.push("[stderr]"));
  assert.deepEqual(out, ["[stderr]"], "nothing to lift before the first update");
  bar.update({ step: 1, maxSteps: 9, loss: 2, lr: 1e-3, gradNorm: 1, tokensPerSec: 10, etaSeconds: 5 });
  out.length = 0;
  bar.interrupt(() => out.push("[stderr]"));
  assert.equal(out[0], "\r\x1b[2K");
  assert.equal(out[1], "[stderr]");
  assert.match(out[2], /^step 1\/9 {2}loss 2\.0000/);
});

Deno.test("EtaEstimator: the pace of the last log points, not a slow first interval", () => {
  const eta = new EtaEstimator(3);
  // The first 10 steps took 60 s (compilation, tuning, the first evaluation); then 1 s per step.
  assert.equal(eta.add(10, 60, 0, 300), 1740); // one point: the average since the start, 6 s per step
  assert.equal(eta.add(20, 70, 0, 300), 280);
  assert.equal(eta.add(30, 80, 0, 300), 270);
  eta.add(40, 90, 0, 300);
  assert.equal(eta.add(50, 100, 0, 300), 250);
  // Resumed at 100: the first point's pace counts only the steps run here.
  assert.equal(new EtaEstimator().add(110, 20, 100, 300), 380);
});

Deno.test("PhaseProgress: a line every interval with the pace since it began, none at the end", () => {
  const lines: string[] = [];
  const p = new PhaseProgress("eval at step 300", (l) => lines.push(l), 1, 5000, 0);
  p.tick(2, 10, 1000); // too soon
  p.tick(3, 10, 6000); // 6 s for 2 batches: 3 s each, 7 left
  p.tick(4, 10, 8000); // too soon after the last line
  p.tick(9, 10, 30000);
  p.tick(10, 10, 40000); // done: the caller's own line follows
  assert.deepEqual(lines, [
    "eval at step 300: 3/10, 6s so far, ETA 21s",
    "eval at step 300: 9/10, 30s so far, ETA 4s",
  ]);
});
