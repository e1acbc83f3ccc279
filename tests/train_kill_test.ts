/**
 * `kill -9` and `--resume`: a tiny tracked training killed with SIGKILL at a checkpoint write, at an evaluation and
 * in its finish, resumed after each; then each step has exactly one point per metric and its sample, every
 * checkpoint loads and nothing is left staged. The short, fixed plan of tools/killloop.ts (which runs many).
 */
import assert from "node:assert/strict";
import { gpuTest } from "../src/gpu/testing.ts";
import { killLoop } from "../tools/killloop.ts";

gpuTest(
  "SIGKILL at a checkpoint, an evaluation and the finish: no point lost or doubled, nothing staged",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "st-train-kill-" });
    try {
      const report = await killLoop({
        dir,
        seed: 7,
        kills: 3,
        maxSteps: 12,
        plan: ["checkpoint", "eval", "finish"],
        log: () => {},
      });
      assert.deepEqual(report.violations, []);
      assert.equal(report.kills, 3);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
