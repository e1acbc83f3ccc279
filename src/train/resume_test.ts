import assert from "node:assert/strict";
import { loadConfig } from "../config/mod.ts";
import { FixableError, UsageError } from "../errors.ts";
import { resolveRun, settleResume } from "./resume.ts";
import { lockRunDir } from "./run_lock.ts";
import { train, type TrainOptions } from "./trainer.ts";

const quiet = { log: () => {} };

async function options(dir: string, more: Partial<TrainOptions> = {}): Promise<TrainOptions> {
  const sets = [
    `training.checkpoint_dir=${dir}/a/ckpt`,
    "training.max_steps=12",
    "training.use_mlflow=false",
  ];
  return { config: (await loadConfig("tiny", sets)).config, hooks: quiet, ...more };
}

/** A checkpoint whose state.json is `state` (an object, or raw text); returns its directory. */
function checkpointWith(path: string, state: unknown): string {
  Deno.mkdirSync(path, { recursive: true });
  Deno.writeTextFileSync(`${path}/state.json`, typeof state === "string" ? state : JSON.stringify(state));
  return path;
}

const state = (step: number, runName: string) => ({
  step,
  config: {},
  sampler: { seed: 1, step, rng: [1, 2, 3, 4] },
  runName,
});

/** Every path under `dir`, sorted. */
function tree(dir: string, prefix = ""): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) => {
    const rel = `${prefix}${e.name}`;
    return e.isDirectory ? [rel + "/", ...tree(`${dir}/${e.name}`, rel + "/")] : [rel];
  }).sort();
}

Deno.test("a crafted state.json is refused before anything is written, its run name above all", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // ckpt/../../victim is <dir>/victim: the old trainer replaced its model and pruned its checkpoints.
    checkpointWith(`${dir}/victim/step_1`, state(1, "victim"));
    Deno.mkdirSync(`${dir}/victim/model`);
    Deno.writeTextFileSync(`${dir}/victim/model/model.safetensors`, "precious");
    const before = tree(dir);
    const bad = checkpointWith(`${dir}/in/step_3`, state(3, "../../victim"));
    await assert.rejects(
      train(await options(dir, { resume: bad })),
      (err: Error) =>
        err instanceof UsageError &&
        err.message ===
          `Cannot resume from ${bad}/state.json: field 'runName' is "../../victim", expected a run ` +
            `name, but it contains '/'`,
    );
    // Even when a configured name would be used instead: a damaged file is not resumed.
    await assert.rejects(train(await options(dir, { resume: bad, runName: "ok" })), /field 'runName'/);
    const broken = checkpointWith(`${dir}/in/step_4`, "{ not json");
    await assert.rejects(train(await options(dir, { resume: broken })), /state\.json: it is not valid JSON/);
    const tooFar = checkpointWith(`${dir}/in/step_20`, state(20, "r"));
    await assert.rejects(
      train(await options(dir, { resume: tooFar })),
      /Cannot resume from .*step_20: it is at step 20, past training\.max_steps 12/,
    );
    await assert.rejects(train(await options(dir, { runName: "../../victim" })), /Cannot use run name/);
    assert.deepEqual(tree(dir).filter((p) => !p.startsWith("in/")), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second training of a run that is training fails before it touches the run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const held = await lockRunDir(`${dir}/a/ckpt/r`, "r");
    try {
      checkpointWith(`${dir}/a/ckpt/r/step_4`, state(4, "r"));
      for (const resume of [true, `${dir}/a/ckpt/r/step_4`, undefined]) {
        await assert.rejects(
          train(await options(dir, { runName: "r", resume })),
          (err: Error) =>
            err instanceof FixableError && /Cannot train run 'r': another training of it/.test(err.message),
        );
      }
      assert.deepEqual(tree(`${dir}/a/ckpt/r`), [".lock", "step_4/", "step_4/state.json"]);
    } finally {
      held.release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resuming after a crash mid-replace picks the newest complete checkpoint and cleans up", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Killed while replacing step_6 with checkpoint_keep 1: the old copy is aside, the new one unfinished.
    const run = `${dir}/a/ckpt/r`;
    checkpointWith(`${run}/step_6.old-4242-1`, state(6, "r"));
    checkpointWith(`${run}/step_6.tmp-4242`, "{ half");
    Deno.mkdirSync(`${run}/model.tmp-4242`);
    const lines: string[] = [];
    for (const resume of [true, `${run}/step_6.old-4242-1`]) {
      const opts = await options(dir, { runName: resume === true ? "r" : undefined, resume });
      const plan = await resolveRun(opts, quiet.log);
      assert.deepEqual([plan.runName, plan.ckptDir, plan.resume?.path], [
        "r",
        run,
        `${run}/step_6.old-4242-1`,
      ]);
      const lock = await lockRunDir(plan.ckptDir, plan.runName);
      try {
        const settled = await settleResume(opts, plan, (l) => lines.push(l));
        assert.equal(settled?.path, `${run}/step_6`);
        assert.equal(settled?.state.step, 6);
      } finally {
        lock.release();
      }
      assert.deepEqual(tree(run), [".lock", "step_6/", "step_6/state.json"]);
      // Put the crash back for the resume by path.
      Deno.renameSync(`${run}/step_6`, `${run}/step_6.old-4242-1`);
    }
    assert.ok(
      lines.some((l) => /removed .*step_6\.tmp-4242, left by an interrupted write/.test(l)),
      lines.join("\n"),
    );
    assert.ok(lines.some((l) => /restored .*step_6 from .*step_6\.old-4242-1/.test(l)), lines.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
