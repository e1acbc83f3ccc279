import assert from "node:assert/strict";
import { cliCommand, nextSteps, summaryLine } from "./train.ts";

Deno.test("summaryLine: a finished run's losses, and a stopped run's with the step each is from", () => {
  assert.equal(
    summaryLine({
      steps: 300,
      seconds: 31,
      train: { step: 300, loss: 1.492 },
      val: { step: 300, loss: 1.549 },
    }),
    "done: 300 steps in 31s; train loss 1.4920 (step 300), val loss 1.5490 (step 300)",
  );
  assert.equal(
    summaryLine({
      steps: 80,
      seconds: 25,
      stoppedBy: "Ctrl-C",
      train: { step: 80, loss: 3.51 },
      val: { step: 0, loss: 6.2415 },
    }),
    "stopped (Ctrl-C) at step 80 after 25s; train loss 3.5100 (step 80), val loss 6.2415 (step 0's evaluation)",
  );
  assert.equal(
    summaryLine({ steps: 0, seconds: 2, stoppedBy: "SIGTERM" }),
    "stopped (SIGTERM) at step 0 after 2s",
  );
});

Deno.test("cliCommand: the compiled binary as typed, or from source the README's npx form", () => {
  assert.equal(cliCommand("/home/u/bin/storyteller", "file:///x/main.ts", "/home/u/bin"), "./storyteller");
  assert.equal(cliCommand("/opt/st/storyteller", "file:///x/main.ts", "/home/u"), "/opt/st/storyteller");
  assert.equal(
    cliCommand("/usr/bin/deno", "file:///work/repo/main.ts", "/work/repo"),
    `npx -y deno@${Deno.version.deno} run -A main.ts`,
  );
  assert.equal(
    cliCommand("/usr/bin/deno", "file:///work/repo/main.ts", "/elsewhere"),
    `npx -y deno@${Deno.version.deno} run -A /work/repo/main.ts`,
  );
});

Deno.test("nextSteps: the model as runs:/<id>/model and the commands that use it; resume when stopped", () => {
  const lines = nextSteps("abc123", "checkpoints/r/model", true, "st");
  assert.deepEqual(lines, [
    "model: runs:/abc123/model (files in checkpoints/r/model)",
    "continue: st train --resume",
    'next: st generate -m runs:/abc123/model --prompt "Once upon a time"',
    "      st serve -m runs:/abc123/model",
    "      st ui",
  ]);
  assert.equal(nextSteps(undefined, "checkpoints/r/model", false, "st")[0], "model: checkpoints/r/model");
});
