import assert from "node:assert/strict";
import { parseTorchCurve } from "./convergence.ts";

Deno.test("parseTorchCurve reads the step/val_loss lines of torch_convergence.py and skips the rest", () => {
  const text = "torch 1.13.0a0 on cpu\nconverge (fixed eval windows): 10 train\nstep 0 val_loss 6.2468\n" +
    "step 100 val_loss 4.1136\nnoise step 5 val_loss 1\nstep 300 val_loss 3.3345\n";
  assert.deepEqual(parseTorchCurve(text), [[0, 6.2468], [100, 4.1136], [300, 3.3345]]);
  assert.deepEqual(parseTorchCurve(""), []);
});
