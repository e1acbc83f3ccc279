/**
 * `storyteller train --resume` against damaged or crafted checkpoints and against a second training of the same
 * run, through the CLI: a clear error with the exit code, and nothing written. None of this needs a GPU: all of
 * it fails before the device opens.
 */
import assert from "node:assert/strict";
import { cli } from "./_cli.ts";
import { smallSets } from "./_small.ts";
import { lockRunDir } from "../src/train/run_lock.ts";
import { openTracking } from "../src/tracking/mod.ts";

/** `--set` arguments: checkpoints under `<dir>/a/ckpt` (so ckpt/../../victim is `<dir>/victim`), tracking in dir. */
function sets(dir: string, more: string[] = []): string[] {
  return smallSets(dir, [
    "training.max_steps=12",
    `training.checkpoint_dir=${dir}/a/ckpt`,
    `training.mlflow_tracking_uri=${dir}/mlruns`,
    ...more,
  ]).flatMap((s) => ["--set", s]);
}

const goodState = {
  step: 3,
  config: {},
  sampler: { seed: 1337, step: 3, rng: [1, 2, 3, 4] },
  runName: "e2e",
};

/** Every path under `dir`, sorted, or [] when it does not exist. */
function tree(dir: string, prefix = ""): string[] {
  try {
    return [...Deno.readDirSync(dir)].flatMap((e) => {
      const rel = `${prefix}${e.name}`;
      return e.isDirectory ? [rel + "/", ...tree(`${dir}/${e.name}`, rel + "/")] : [rel];
    }).sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/** How many runs the tracking store under `<dir>/mlruns` holds (0 when it was never created). */
async function trackedRuns(dir: string): Promise<number> {
  const found = await openTracking(`${dir}/mlruns`).searchRuns({ experimentNames: ["storyteller"] })
    .catch(() => ({ runs: [] }));
  return found.runs.length;
}

Deno.test("--resume from a crafted or damaged state.json exits 2 naming the file and field, writing nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-train-resume-" });
  try {
    Deno.mkdirSync(`${dir}/victim/model`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/victim/model/model.safetensors`, "precious");
    Deno.mkdirSync(`${dir}/victim/step_1`);
    Deno.writeTextFileSync(`${dir}/victim/step_1/state.json`, JSON.stringify(goodState));
    const cases: [string, string | RegExp][] = [
      [JSON.stringify({ ...goodState, runName: "../../victim" }), `field 'runName' is "../../victim"`],
      [JSON.stringify({ ...goodState, step: "abc" }), `field 'step' is "abc", expected an integer from 0 to`],
      [JSON.stringify({ ...goodState, step: 1e12 }), `field 'step' is 1000000000000, expected an integer`],
      [JSON.stringify({ ...goodState, sampler: { rng: "garbage" } }), `field 'sampler.seed' is missing`],
      [
        JSON.stringify({ ...goodState, sampler: { ...goodState.sampler, rng: [0, 0, 0, 0] } }),
        `'sampler.rng'`,
      ],
      ["{ not json", "it is not valid JSON"],
    ];
    for (const [i, [text, want]] of cases.entries()) {
      const ckpt = `${dir}/in/${i}/step_3`;
      Deno.mkdirSync(ckpt, { recursive: true });
      Deno.writeTextFileSync(`${ckpt}/state.json`, text);
      const r = await cli("train", ...sets(dir), "--resume", ckpt);
      assert.equal(r.code, 2, `${text}\n${r.out}\n${r.err}`);
      assert.ok(r.err.includes(`Cannot resume from ${ckpt}/state.json: `), r.err);
      assert.ok(r.err.includes(want as string), `${r.err}\nwanted: ${want}`);
      assert.match(r.err, /hint: /);
    }
    const r = await cli("train", ...sets(dir, ["training.mlflow_run_name=../../victim"]));
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /training\.mlflow_run_name: run name "\.\.\/\.\.\/victim" contains '\/'/);
    assert.deepEqual(tree(`${dir}/victim`), [
      "model/",
      "model/model.safetensors",
      "step_1/",
      "step_1/state.json",
    ]);
    assert.equal(Deno.readTextFileSync(`${dir}/victim/model/model.safetensors`), "precious");
    assert.deepEqual(tree(`${dir}/a`), []);
    assert.equal(await trackedRuns(dir), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second training of a run while one holds it exits 1 and logs no tracked run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-train-lock-" });
  try {
    Deno.mkdirSync(`${dir}/a/ckpt/e2e/step_3`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/a/ckpt/e2e/step_3/state.json`, JSON.stringify(goodState));
    const held = await lockRunDir(`${dir}/a/ckpt/e2e`, "e2e");
    try {
      for (const resume of [["--resume"], ["--resume", `${dir}/a/ckpt/e2e/step_3`], []]) {
        const r = await cli("train", ...sets(dir, ["training.mlflow_run_name=e2e"]), ...resume);
        assert.equal(r.code, 1, r.err);
        assert.match(
          r.err,
          /Cannot train run 'e2e': another training of it \(process \d+\) holds .*\/\.lock/,
        );
        assert.match(r.err, /hint: wait for it to finish/);
      }
    } finally {
      held.release();
    }
    assert.deepEqual(tree(`${dir}/a/ckpt/e2e`), [".lock", "step_3/", "step_3/state.json"]);
    assert.equal(await trackedRuns(dir), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
