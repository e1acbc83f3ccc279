import assert from "node:assert/strict";
import { learningRate, type ScheduleConfig } from "./schedule.ts";

const STEPS = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 37, 50, 99, 100, 101, 150];

// Golden values printed by ../shared/bench/torch_reference.py's lr_at (extracted with ast and run by python3).
const GOLDEN: [Omit<ScheduleConfig, "lr_schedule">, number[]][] = [
  [{ learning_rate: 5e-4, min_lr: 5e-5, warmup_steps: 10, max_steps: 100 }, [
    5e-05,
    0.0001,
    0.00015000000000000001,
    0.0002,
    0.00025,
    0.00030000000000000003,
    0.00035,
    0.0004,
    0.0005,
    0.0005,
    0.0004998629360792965,
    0.0004072516817658065,
    0.0003140708399750594,
    5.013706392070346e-05,
    5e-05,
    5e-05,
    5e-05,
  ]],
  [{ learning_rate: 1e-3, min_lr: 0, warmup_steps: 0, max_steps: 7 }, [
    0.001,
    0.0009504844339512095,
    0.0008117449009293668,
    0.0006112604669781572,
    0.00038873953302184284,
    0.00018825509907063325,
    4.9515566048790485e-05,
    ...Array(10).fill(0),
  ]],
  [{ learning_rate: 3e-4, min_lr: 3e-5, warmup_steps: 5, max_steps: 5 }, [
    5.9999999999999995e-05,
    0.00011999999999999999,
    0.00017999999999999998,
    0.00023999999999999998,
    0.0003,
    0.0003,
    ...Array(11).fill(3e-5),
  ]],
  [{ learning_rate: 2e-3, min_lr: 1e-4, warmup_steps: 3, max_steps: 1 }, [
    0.0006666666666666666,
    0.0013333333333333333,
    0.002,
    0.002,
    ...Array(13).fill(1e-4),
  ]],
];

Deno.test("cosine schedule equals torch_reference.py's lr_at", () => {
  for (const [t, want] of GOLDEN) {
    STEPS.forEach((step, i) => {
      const got = learningRate(step, { ...t, lr_schedule: "cosine" });
      assert.ok(
        Math.abs(got - want[i]) <= 1e-15 * Math.abs(want[i]),
        `step ${step} of ${JSON.stringify(t)}: ${got} vs ${want[i]}`,
      );
    });
  }
});

Deno.test("linear and constant schedules share the warmup and end at their targets", () => {
  const base = { learning_rate: 1e-3, min_lr: 1e-4, warmup_steps: 4, max_steps: 14 };
  const linear: ScheduleConfig = { ...base, lr_schedule: "linear" };
  const constant: ScheduleConfig = { ...base, lr_schedule: "constant" };
  for (let s = 0; s < 4; s++) {
    assert.equal(learningRate(s, linear), 1e-3 * (s + 1) / 4);
    assert.equal(learningRate(s, constant), learningRate(s, { ...base, lr_schedule: "cosine" }));
  }
  assert.equal(learningRate(4, linear), 1e-3);
  assert.ok(Math.abs(learningRate(9, linear) - 5.5e-4) < 1e-15);
  assert.equal(learningRate(14, linear), 1e-4);
  assert.equal(learningRate(20, linear), 1e-4);
  for (const s of [4, 9, 14, 100]) assert.equal(learningRate(s, constant), 1e-3);
});

Deno.test("schedules are monotone after warmup", () => {
  for (const lr_schedule of ["cosine", "linear"] as const) {
    const t: ScheduleConfig = { learning_rate: 1, min_lr: 0.1, warmup_steps: 7, max_steps: 60, lr_schedule };
    for (let s = 7; s < 70; s++) {
      assert.ok(learningRate(s + 1, t) <= learningRate(s, t), `${lr_schedule} ${s}`);
    }
  }
});
