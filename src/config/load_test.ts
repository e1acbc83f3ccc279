import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { applySet, defaultConfig, loadConfig, parseConfig, PRESETS } from "./mod.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("a typo in a key fails with file:line:col, the key path and the nearest valid key", () => {
  const err = configError(() => parseConfig("model:\n  vocab_size: 512\n  hiden_size: 64\n", "my.yaml"));
  assert.equal(err.message, "my.yaml:3:3: model.hiden_size: unknown key");
  assert.equal(err.hint, "did you mean 'model.hidden_size'?");
  assert.deepEqual(err.where, { file: "my.yaml", line: 3, col: 3, key: "model.hiden_size" });
});

Deno.test("wrong types and out-of-range values name what was expected", () => {
  let err = configError(() => parseConfig("training:\n  batch_size: lots\n", "c.yaml"));
  assert.match(
    err.message,
    /^c\.yaml:2:15: training\.batch_size: expected an integer, found the string "lots"$/,
  );
  err = configError(() => parseConfig("training:\n  batch_size: 2.5\n", "c.yaml"));
  assert.match(err.message, /expected an integer/);
  err = configError(() => parseConfig("training:\n  learning_rate: -1\n", "c.yaml"));
  assert.match(err.message, /c\.yaml:2:18: training\.learning_rate: -1 is out of range/);
  err = configError(() => parseConfig("training:\n  lr_schedule: cosin\n", "c.yaml"));
  assert.match(err.message, /expected one of cosine \| linear \| constant/);
  assert.equal(err.hint, "did you mean 'cosine'?");
  err = configError(() => parseConfig("model: 3\n", "c.yaml"));
  assert.match(err.message, /c\.yaml:1:8: model: expected a mapping/);
});

Deno.test("invalid YAML fails with its position", () => {
  const err = configError(() => parseConfig("model:\n  hidden_size: [1, 2\n", "broken.yaml"));
  assert.match(err.message, /^broken\.yaml:\d+:\d+: invalid YAML/);
  const dup = configError(() => parseConfig("model:\n  hidden_size: 1\n  hidden_size: 2\n", "dup.yaml"));
  assert.match(dup.message, /^dup\.yaml:3:3: invalid YAML/);
});

Deno.test("cross-field checks point at the offending key", () => {
  const err = configError(() => parseConfig("model:\n  hidden_size: 100\n  num_heads: 3\n", "c.yaml"));
  assert.match(
    err.message,
    /^c\.yaml:3:14: model\.num_heads: hidden_size 100 is not divisible by num_heads 3$/,
  );
  const kv = configError(() => parseConfig("model:\n  num_kv_heads: 4\n", "c.yaml"));
  assert.match(kv.message, /num_heads 6 is not a multiple of num_kv_heads 4/);
  const moe = configError(() => parseConfig("model:\n  moe: {num_experts: 4, layers: [0, 9]}\n", "c.yaml"));
  assert.match(moe.message, /layer 9 does not exist/);
});

Deno.test("a run name that is not one plain directory name is refused with its position and a hint", async () => {
  const err = configError(() => parseConfig("training:\n  mlflow_run_name: ../../victim\n", "c.yaml"));
  assert.equal(err.message, "c.yaml:2:20: training.mlflow_run_name: run name \"../../victim\" contains '/'");
  assert.match(err.hint!, /one directory name under training\.checkpoint_dir/);
  for (const bad of ["..", ".", "a\\b", "/abs", "a\0b"]) {
    await assert.rejects(
      loadConfig("tiny", [`training.mlflow_run_name=${JSON.stringify(bad)}`]),
      (err: Error) =>
        err instanceof ConfigError &&
        /training\.mlflow_run_name: run name .* (is|contains)/.test(err.message),
      bad,
    );
  }
  const ok = await loadConfig("tiny", ["training.mlflow_run_name=tiny run.2"]);
  assert.equal(ok.config.training.mlflow_run_name, "tiny run.2");
});

Deno.test("a file lists only what differs; the rest keeps the typed defaults", () => {
  const c = parseConfig("training:\n  max_steps: 7\n", "c.yaml");
  const d = defaultConfig();
  assert.equal(c.training.max_steps, 7);
  assert.deepEqual(c.model, d.model);
  assert.equal(c.training.learning_rate, d.training.learning_rate);
  assert.deepEqual(parseConfig("", "empty.yaml"), d);
});

Deno.test("defaults equal torch_reference.py's for the keys both read", () => {
  const d = defaultConfig();
  assert.equal(d.model.norm_eps, 1e-5);
  assert.equal(d.model.rope_theta, 10000);
  assert.equal(d.model.tie_embeddings, true);
  assert.equal(d.model.moe.top_k, 2);
  assert.equal(d.model.moe.aux_loss_coef, 0.01);
  const t = d.training;
  assert.deepEqual(
    [t.learning_rate, t.min_lr, t.warmup_steps, t.max_steps, t.batch_size, t.weight_decay, t.beta1, t.beta2],
    [5e-4, 0, 0, 1000, 32, 0.1, 0.9, 0.95],
  );
  assert.deepEqual([t.grad_clip, t.eval_interval, t.eval_steps, t.grad_accum_steps, t.seed], [
    1,
    100,
    20,
    1,
    1337,
  ]);
});

Deno.test("--set overrides values with the same checks", () => {
  const c = defaultConfig();
  applySet(c, "training.learning_rate=1e-3");
  applySet(c, "model.moe.layers=[0, 2]");
  applySet(c, "training.tags={team: stories}");
  assert.equal(c.training.learning_rate, 1e-3);
  assert.deepEqual(c.model.moe.layers, [0, 2]);
  assert.deepEqual(c.training.tags, { team: "stories" });
  assert.match(configError(() => applySet(c, "training.learnin_rate=1")).hint!, /training\.learning_rate/);
  assert.match(configError(() => applySet(c, "model=1")).message, /is a section/);
  assert.match(configError(() => applySet(c, "no-equals")).message, /expected key\.path=value/);
  assert.match(configError(() => applySet(c, "training.use_amp=maybe")).message, /expected true or false/);
});

Deno.test("embedded presets load by name and by a configs/ path that does not exist locally", async () => {
  for (const name of Object.keys(PRESETS)) {
    const r = await loadConfig(name);
    assert.equal(r.source, `<embedded:${name}>`);
  }
  const base = await loadConfig("configs/base_model.yaml");
  assert.equal(base.config.model.hidden_size, 288);
  const tmp = await Deno.makeTempDir();
  try {
    const missing = await loadConfig(`${tmp}/nope.yaml`).catch((e) => e);
    assert.ok(missing instanceof ConfigError);
    assert.match(missing.hint!, /embedded configs: base_model, moe_model, tiny/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the moe preset turns on experts and the tiny preset is small", async () => {
  const moe = (await loadConfig("moe_model")).config;
  assert.equal(moe.model.moe.num_experts, 4);
  const tiny = (await loadConfig()).config;
  assert.ok(tiny.model.hidden_size <= 128);
});
