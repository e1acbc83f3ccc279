import assert from "node:assert/strict";
import { parseSamples, sampleFiles, sampleStep, spreadSamples } from "./samples.ts";

Deno.test("samples: step from the file name, files ordered by step", () => {
  assert.equal(sampleStep("samples/step_0000300.txt"), 300);
  assert.equal(sampleStep("samples/step_0000000.txt"), 0);
  assert.equal(sampleStep("samples/step_300.jsonl"), 300);
  assert.equal(sampleStep("samples/notes.txt"), undefined);
  assert.equal(sampleStep("samples/step_12.png"), undefined);
  const files = sampleFiles([
    "samples/step_0001000.txt",
    "samples/README.txt",
    "samples/step_0000020.txt",
    "samples/step_0000300.txt",
  ]);
  assert.deepEqual(files.map((f) => f.step), [20, 300, 1000]);
});

Deno.test("samples: spread keeps the first and the last", () => {
  const all = Array.from({ length: 101 }, (_, i) => i);
  assert.deepEqual(spreadSamples(all, 5), [0, 25, 50, 75, 100]);
  assert.deepEqual(spreadSamples([1, 2, 3], 5), [1, 2, 3]);
  assert.deepEqual(spreadSamples([1, 2, 3], 1), [3]);
});

Deno.test("samples: JSON lines with prompt and text; anything else is null", () => {
  assert.deepEqual(parseSamples('{"step": 3, "prompt": "Once", "text": " upon"}\n'), [
    { meta: "step: 3 · prompt: Once", text: "Once upon" },
  ]);
  assert.equal(parseSamples("Once upon a time"), null);
  assert.equal(parseSamples('{"step": 3}'), null);
});
