import assert from "node:assert/strict";
import { resolve } from "node:path";
import { defaultConfig } from "../config/mod.ts";
import { UsageError } from "../errors.ts";
import {
  latestCheckpoint,
  latestRunCheckpoint,
  loadCheckpoint,
  parseTrainState,
  recoverRunDir,
  runDir,
  saveCheckpoint,
  saveModelDir,
  type TrainState,
} from "./checkpoint.ts";
import { buildLayout } from "./layout.ts";

const FILE = "ck/step_3/state.json";

/** A state.json as saveCheckpoint writes it (config left small: the check only wants an object). */
function goodState(): Record<string, unknown> {
  return {
    step: 3,
    config: { training: { max_steps: 12 } },
    sampler: { seed: 1337, step: 3, rng: [1, 2, 3, 4294967295] },
    runName: "tiny-1",
    runId: "9c0960e5d6f54a2c8a2f2b4b8d1e0f3a",
    amp: { dtype: "float16", lossScale: 32768, cleanSteps: 2, skippedSteps: 1 },
  };
}

/** The UsageError parseTrainState throws for `state` (an object turned to JSON, or raw text). */
function refusal(state: unknown): UsageError {
  const text = typeof state === "string" ? state : JSON.stringify(state);
  try {
    parseTrainState(text, FILE);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    return err;
  }
  assert.fail(`accepted ${text}`);
}

Deno.test("a state.json as saveCheckpoint writes it parses to the same state", () => {
  const state = parseTrainState(JSON.stringify(goodState()), FILE);
  assert.deepEqual(state, goodState());
  const { runId: _, amp: __, ...plain } = goodState();
  assert.deepEqual(parseTrainState(JSON.stringify({ ...plain, future: 1 }), FILE), plain);
});

Deno.test("a damaged state.json is refused naming the file and the field, with what was expected", () => {
  assert.match(
    refusal("{ step: 3").message,
    /^Cannot resume from ck\/step_3\/state\.json: it is not valid JSON/,
  );
  assert.match(refusal([1, 2]).message, /field '\(top level\)' is \[1,2\], expected an object$/);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ step: "abc" }, /field 'step' is "abc", expected an integer from 0 to 1000000000$/],
    [{ step: 1e12 }, /field 'step' is 1000000000000, expected an integer from 0 to 1000000000$/],
    [{ step: -1 }, /field 'step' is -1/],
    [{ step: 2.5 }, /field 'step' is 2\.5/],
    [{ step: undefined }, /field 'step' is missing/],
    [{ config: "tiny" }, /field 'config' is "tiny", expected the resolved config/],
    [{ sampler: "garbage" }, /field 'sampler' is "garbage", expected the batch sampler's state/],
    [
      { sampler: { seed: 1, step: 3, rng: [1, 2, 3] } },
      /field 'sampler\.rng' is \[1,2,3\], expected 4 integers/,
    ],
    [{ sampler: { seed: 1, step: 3, rng: [0, 0, 0, 0] } }, /field 'sampler\.rng' is \[0,0,0,0\].*not all 0$/],
    [{ sampler: { seed: 1, step: 3, rng: [1, 2, 3, 2 ** 32] } }, /field 'sampler\.rng'/],
    [{ sampler: { seed: "x", step: 3, rng: [1, 2, 3, 4] } }, /field 'sampler\.seed' is "x"/],
    [{ sampler: { seed: 1, step: null, rng: [1, 2, 3, 4] } }, /field 'sampler\.step' is null/],
    [{ runName: 7 }, /field 'runName' is 7, expected a run name/],
    [
      { runName: "../../victim" },
      /field 'runName' is "\.\.\/\.\.\/victim", expected a run name, but it contains '\/'$/,
    ],
    [{ runName: ".." }, /field 'runName' is "\.\.", expected a run name, but it is '\.\.'$/],
    [{ runName: "/etc" }, /field 'runName' is "\/etc".*contains '\/'$/],
    [{ runName: "a\\b" }, /field 'runName'.*contains '\\'$/],
    [{ runName: "" }, /field 'runName' is "".*is empty$/],
    [{ runId: "../../x" }, /field 'runId' is "\.\.\/\.\.\/x", expected a tracking run id/],
    [{ extra: [1] }, /field 'extra' is \[1\], expected an object$/],
    [
      { amp: { dtype: "float8", lossScale: 1, cleanSteps: 0, skippedSteps: 0 } },
      /field 'amp\.dtype' is "float8"/,
    ],
    [
      { amp: { dtype: "float16", lossScale: -1, cleanSteps: 0, skippedSteps: 0 } },
      /field 'amp\.lossScale' is -1/,
    ],
    [
      { amp: { dtype: "float16", lossScale: 1, cleanSteps: 0.5, skippedSteps: 0 } },
      /field 'amp\.cleanSteps'/,
    ],
    [{ amp: "on" }, /field 'amp' is "on", expected the loss-scale state/],
  ];
  for (const [change, want] of cases) {
    const err = refusal({ ...goodState(), ...change });
    assert.match(err.message, /^Cannot resume from ck\/step_3\/state\.json: field '/);
    assert.match(err.message, want);
    assert.ok(err.hint, `no hint for ${JSON.stringify(change)}`);
  }
  // A huge value is shown cut short.
  assert.ok(refusal({ ...goodState(), step: "x".repeat(10_000) }).message.length < 200);
});

Deno.test("a run name that is not one directory name cannot name a run directory", () => {
  assert.equal(runDir("ckpt", "tiny-1"), "ckpt/tiny-1");
  assert.equal(runDir("ckpt", "tiny run.2"), "ckpt/tiny run.2");
  for (const bad of ["../../victim", "..", ".", "", "/abs", "a\\b", "a\0b"]) {
    assert.throws(() => runDir("ckpt", bad), UsageError, bad);
  }
  assert.throws(
    () => runDir("ckpt", "../x"),
    /Cannot use run name "\.\.\/x" for a checkpoint directory: it contains/,
  );
});

/** A small layout and its tensors filled with `value`. */
function smallModel(value: number) {
  const config = defaultConfig();
  Object.assign(config.model, {
    hidden_size: 8,
    num_layers: 1,
    num_heads: 2,
    num_kv_heads: 2,
    intermediate_size: 8,
    vocab_size: 16,
  });
  const layout = buildLayout(config.model);
  const flat = () => new Float32Array(layout.total).fill(value);
  return { config, layout, tensors: { params: flat(), m: flat(), v: flat() } };
}

function stateAt(step: number, config = defaultConfig()): TrainState {
  return { step, config, sampler: { seed: 1, step, rng: [1, 2, 3, 4] }, runName: "r" };
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("saving a checkpoint again replaces it in place, leaving no temporary or set-aside copy", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = smallModel(1);
    const path = await saveCheckpoint(dir, first.layout, first.tensors, stateAt(4, first.config));
    const second = smallModel(2);
    assert.equal(await saveCheckpoint(dir, second.layout, second.tensors, stateAt(4, second.config)), path);
    assert.deepEqual(names(dir), ["step_4"]);
    const back = await loadCheckpoint(path, second.layout);
    assert.equal(back.params[0], 2);
    assert.equal(back.state.step, 4);
    const gen = { max_new_tokens: 8, temperature: 1, top_k: 0, top_p: 1, eos_token_id: -1 };
    await saveModelDir(`${dir}/model`, first.layout, first.tensors.params, first.config, "{}", gen);
    await saveModelDir(`${dir}/model`, second.layout, second.tensors.params, second.config, "{}", gen);
    assert.deepEqual(names(dir), ["model", "step_4"]);
    assert.deepEqual(names(`${dir}/model`), [
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A complete-looking checkpoint directory: state.json at `step` (tensors are not read by these tests). */
function fakeCheckpoint(path: string, step: number): void {
  Deno.mkdirSync(path, { recursive: true });
  Deno.writeTextFileSync(`${path}/state.json`, JSON.stringify(stateAt(step)));
}

Deno.test("after a crash between the renames resume finds the set-aside copy and recovery puts it back", async () => {
  const root = await Deno.makeTempDir();
  const dir = `${root}/r`;
  try {
    // Killed while replacing step_5 (checkpoint_keep 1: step_3 was already pruned elsewhere) and model: the old
    // copies are aside, the new ones unfinished.
    fakeCheckpoint(`${dir}/step_3`, 3);
    fakeCheckpoint(`${dir}/step_5.old-4242-1`, 5);
    fakeCheckpoint(`${dir}/step_5.tmp-4242`, 5);
    Deno.mkdirSync(`${dir}/model.old-4242-2`);
    Deno.writeTextFileSync(`${dir}/model.old-4242-2/model.safetensors`, "old");
    Deno.mkdirSync(`${dir}/model.tmp-4242`);
    // Not ours: a file of that shape, and a directory that only looks alike.
    Deno.writeTextFileSync(`${dir}/step_9.tmp-1`, "a file");
    Deno.mkdirSync(`${dir}/notes.tmp-1`);
    assert.equal(await latestCheckpoint(dir), `${dir}/step_5.old-4242-1`);
    assert.deepEqual(await latestRunCheckpoint(root), { runName: "r", path: `${dir}/step_5.old-4242-1` });

    const recovery = await recoverRunDir(dir);
    assert.deepEqual(recovery.removed.sort(), [`${dir}/model.tmp-4242`, `${dir}/step_5.tmp-4242`]);
    assert.deepEqual(
      recovery.restored,
      new Map([[resolve(`${dir}/model.old-4242-2`), `${dir}/model`], [
        resolve(`${dir}/step_5.old-4242-1`),
        `${dir}/step_5`,
      ]]),
    );
    assert.deepEqual(names(dir), ["model", "notes.tmp-1", "step_3", "step_5", "step_9.tmp-1"]);
    assert.equal(Deno.readTextFileSync(`${dir}/model/model.safetensors`), "old");
    assert.equal(await latestCheckpoint(dir), `${dir}/step_5`);
    assert.deepEqual(await recoverRunDir(dir), { removed: [], restored: new Map() });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("after a crash once the new copy was in place recovery removes the set-aside old one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    fakeCheckpoint(`${dir}/step_5`, 5);
    fakeCheckpoint(`${dir}/step_5.old-4242-1`, 5);
    // On a tie the copy in place wins over the older one set aside.
    assert.equal(await latestCheckpoint(dir), `${dir}/step_5`);
    // Two crashes in a row left two old copies of step_6 and none in place: one goes back, the other goes.
    fakeCheckpoint(`${dir}/step_6.old-4242-3`, 6);
    fakeCheckpoint(`${dir}/step_6.old-4243-1`, 6);
    const recovery = await recoverRunDir(dir);
    assert.equal(recovery.removed.length, 2);
    assert.ok(recovery.removed.includes(`${dir}/step_5.old-4242-1`), recovery.removed.join());
    assert.deepEqual([...recovery.restored.values()], [`${dir}/step_6`]);
    assert.deepEqual(names(dir), ["step_5", "step_6"]);
    assert.equal(await latestCheckpoint(dir), `${dir}/step_6`);
    assert.deepEqual(await recoverRunDir(`${dir}/missing`), { removed: [], restored: new Map() });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
