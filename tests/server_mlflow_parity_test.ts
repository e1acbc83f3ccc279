/**
 * Issue 16: what a real MLflow 3.6 client tripped over, each as the exact request the client sends (spec §3,
 * MLflow's RestStore and handlers): the prompt-marker filter of every registered-model search, `!=` on missing tags
 * per entity, the prompt registry, `/version`, and the wire details (metric run_id, model outputs in search, the
 * ajax search-datasets route, get-latest-versions order, empty artifact sizes, the `IN` error text).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp, MLFLOW_COMPAT_VERSION } from "../src/server/mod.ts";
import { apiClient, type J } from "./_api_client.ts";
import { FileStore, registrationSource } from "../src/tracking/mod.ts";
import { VERSION } from "../src/version.ts";

/** MLflow 3's `_add_prompt_filter_string` for registered-model (and model-version) searches. */
const NOT_A_PROMPT = "tags.`mlflow.prompt.is_prompt` != 'true'";
const IS_A_PROMPT = "tags.`mlflow.prompt.is_prompt` = 'true'";

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "st-parity-" });
  const app = createServerApp({
    backendStoreUri: join(dir, "mlruns"),
    artifactsDestination: join(dir, "art"),
  });
  return { dir, app, ...apiClient(app), done: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("registered-model and version searches with MLflow 3's prompt filter find models without the tag", async () => {
  const t = await setup();
  try {
    await t.ok("POST", "registered-models/create", { name: "Plain" });
    await t.ok("POST", "registered-models/create", { name: "Tagged", tags: [{ key: "team", value: "a" }] });
    // MlflowClient().search_registered_models(): GET with the filter in the query string, max_results 100.
    const names = async (filter: string) =>
      ((await t.ok("GET", "registered-models/search", { filter, max_results: 100 })).registered_models ?? [])
        .map((m: J) => m.name);
    assert.deepEqual(await names(NOT_A_PROMPT), ["Plain", "Tagged"]);
    assert.deepEqual(await names(`${NOT_A_PROMPT} AND name LIKE 'T%'`), ["Tagged"]);
    assert.deepEqual(await names("tags.`mlflow.prompt.is_prompt` = 'false'"), ["Plain", "Tagged"]);
    assert.deepEqual(await names(IS_A_PROMPT), []);
    // Any other missing tag never matches, `!=` included (MLflow's rule for every entity).
    assert.deepEqual(await names("tags.team != 'b'"), ["Tagged"]);
    assert.deepEqual(await names("tags.other != 'x'"), []);

    const run = (await t.ok("POST", "runs/create", { experiment_id: "0" })).run.info;
    await t.ok("POST", "model-versions/create", {
      name: "Plain",
      source: `mlflow-artifacts:/0/${run.run_id}/artifacts/model`,
      run_id: run.run_id,
    });
    const versions = async (filter: string) =>
      ((await t.ok("GET", "model-versions/search", { filter, max_results: 10000 })).model_versions ?? [])
        .length;
    assert.equal(await versions(`name = 'Plain' AND ${NOT_A_PROMPT}`), 1);
    assert.equal(await versions("tags.other != 'x'"), 0);

    // Runs, experiments and logged models: a missing tag never matches.
    await t.ok("POST", "runs/set-tag", { run_id: run.run_id, key: "k", value: "v" });
    const runs = async (filter: string) =>
      ((await t.ok("POST", "runs/search", { experiment_ids: ["0"], filter, max_results: 1000 })).runs ?? [])
        .length;
    assert.equal(await runs("tags.k != 'w'"), 1);
    assert.equal(await runs("tags.missing != 'w'"), 0);
    const exps = await t.ok("POST", "experiments/search", { filter: "tags.missing != 'w'", max_results: 10 });
    assert.equal((exps.experiments ?? []).length, 0);
    await t.ok("POST", "logged-models", { experiment_id: "0", name: "m", source_run_id: run.run_id });
    const models = async (filter: string) =>
      ((await t.ok("POST", "logged-models/search", { experiment_ids: ["0"], filter })).models ?? []).length;
    assert.equal(await models("name = 'm'"), 1);
    assert.equal(await models("tags.missing != 'w'"), 0);
  } finally {
    await t.done();
  }
});

Deno.test("the CLI's models list --filter takes the prompt filter too (FileStore)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-parity-store-" });
  try {
    const store = new FileStore(join(dir, "mlruns"));
    await store.createRegisteredModel("Plain");
    const page = await store.searchRegisteredModels({ filterString: NOT_A_PROMPT });
    assert.deepEqual(page.registeredModels.map((m) => m.name), ["Plain"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prompt registry: register_prompt then load_prompt, as MLflow 3.6's client calls them", async () => {
  const t = await setup();
  try {
    // register_prompt: get_prompt (404 = new), create_prompt, create_prompt_version with the placeholder source.
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "registered-models/get", { name: "greet" });
    await t.ok("POST", "registered-models/create", {
      name: "greet",
      tags: [{ key: "mlflow.prompt.is_prompt", value: "true" }, { key: "task", value: "hello" }],
    });
    const { model_version: created } = await t.ok("POST", "model-versions/create", {
      name: "greet",
      source: "dummy-source",
      description: "first",
      tags: [
        { key: "mlflow.prompt.is_prompt", value: "true" },
        { key: "mlflow.prompt.text", value: "Hello {{name}}" },
        { key: "_mlflow_prompt_type", value: "text" },
      ],
    });
    assert.equal(created.version, "1");
    assert.equal(created.source, "dummy-source");
    // Without the prompt tag the same source is still refused (CVE-2023-1177's check stays).
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "model-versions/create", {
      name: "greet",
      source: "dummy-source",
    });

    // load_prompt("prompts:/greet/1"): the registered model (is it a prompt?), then the version's tags.
    const { registered_model: rm } = await t.ok("GET", "registered-models/get", { name: "greet" });
    assert.ok(rm.tags.some((x: J) => x.key === "mlflow.prompt.is_prompt" && x.value === "true"));
    const { model_version: mv } = await t.ok("GET", "model-versions/get", { name: "greet", version: "1" });
    const tags = Object.fromEntries(mv.tags.map((x: J) => [x.key, x.value]));
    assert.equal(tags["mlflow.prompt.text"], "Hello {{name}}");
    assert.equal(tags["mlflow.prompt.is_prompt"], "true");
    // load_prompt("prompts:/greet@latest").
    const latest = await t.ok("GET", "registered-models/alias", { name: "greet", alias: "latest" });
    assert.equal(latest.model_version.version, "1");

    // search_prompts finds it; a plain model search (the client's prompt filter) does not.
    await t.ok("POST", "registered-models/create", { name: "Model" });
    const search = async (filter: string) =>
      ((await t.ok("GET", "registered-models/search", { filter, max_results: 100 })).registered_models ?? [])
        .map((m: J) => m.name);
    assert.deepEqual(await search(IS_A_PROMPT), ["greet"]);
    assert.deepEqual(await search(NOT_A_PROMPT), ["Model"]);
  } finally {
    await t.done();
  }
});

Deno.test("/version answers the MLflow release the API follows; storyteller's own version in a header", async () => {
  const t = await setup();
  try {
    const res = await t.app.request("/version");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), MLFLOW_COMPAT_VERSION);
    assert.match(MLFLOW_COMPAT_VERSION, /^3\.\d+\.\d+$/);
    assert.equal(res.headers.get("X-Storyteller-Version"), VERSION);
    // Tracing is not implemented: MLflow's ENDPOINT_NOT_FOUND.
    await t.err(404, "ENDPOINT_NOT_FOUND", "POST", "/api/3.0/mlflow/traces", {});
    await t.err(404, "ENDPOINT_NOT_FOUND", "POST", "/v1/traces", {});
  } finally {
    await t.done();
  }
});

Deno.test("models register: runs:/ resolved as mlflow.register_model does; run artifacts untouched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-parity-reg-" });
  try {
    const store = new FileStore(join(dir, "mlruns"));
    const run = await store.createRun({});
    const src = join(dir, "src");
    Deno.mkdirSync(join(src, "model"), { recursive: true });
    Deno.writeTextFileSync(join(src, "model", "MLmodel"), "flavors: {}\n");
    await store.logArtifacts(run.info.runId, src);
    const resolved = await registrationSource(store, `runs:/${run.info.runId}/model`);
    assert.deepEqual(resolved, { source: `${run.info.artifactUri}/model`, runId: run.info.runId });
    await store.createRegisteredModel("Story");
    for (const name of ["Story"]) {
      const mv = await store.createModelVersion(name, resolved.source, { runId: resolved.runId });
      assert.equal(mv.source, `${run.info.artifactUri}/model`);
      assert.equal(mv.storageLocation, mv.source);
      assert.equal(mv.runId, run.info.runId);
    }
    // runs:/ is still accepted by the store itself.
    assert.equal((await store.createModelVersion("Story", `runs:/${run.info.runId}/model`)).version, "2");
    const listed = (await store.listArtifacts(run.info.runId, "model")).map((f) => f.path);
    assert.deepEqual(listed, ["model/MLmodel"], "no registered_model_meta in the run's artifacts");
    await assert.rejects(registrationSource(store, `runs:/${run.info.runId}/nothing`), /Unable to find/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wire details: metric run_id, outputs in search, search-datasets, latest order, empty sizes, IN", async () => {
  const t = await setup();
  try {
    const { run } = await t.ok("POST", "runs/create", { experiment_id: "0", start_time: 1 });
    const runId = run.info.run_id;
    await t.ok("POST", "runs/log-metric", { run_id: runId, key: "loss", value: 1.5, timestamp: 5, step: 2 });
    const got = (await t.ok("GET", "runs/get", { run_id: runId, run_uuid: runId })).run;
    assert.deepEqual(got.data.metrics, [{ key: "loss", value: 1.5, timestamp: 5, step: 2, run_id: runId }]);

    // runs/outputs as MLflow 3's log_model sends it, then runs/search carries outputs.model_outputs.
    const { model } = await t.ok("POST", "logged-models", {
      experiment_id: "0",
      name: "m",
      source_run_id: runId,
    });
    await t.ok("POST", "runs/outputs", {
      run_id: runId,
      models: [{ model_id: model.info.model_id, step: 2 }],
    });
    const [found] = (await t.ok("POST", "runs/search", { experiment_ids: ["0"], max_results: 1000 })).runs;
    assert.deepEqual(found.outputs, { model_outputs: [{ model_id: model.info.model_id, step: 2 }] });
    assert.equal(found.data.metrics[0].run_id, runId);

    // The UI's dataset list: ajax-only, like MLflow's.
    await t.ok("POST", "runs/log-inputs", {
      run_id: runId,
      datasets: [{
        tags: [{ key: "mlflow.data.context", value: "training" }],
        dataset: { name: "stories", digest: "abcd1234", source_type: "local", source: "{}" },
      }],
    });
    const summaries = await t.ok(
      "POST",
      "/ajax-api/2.0/mlflow/experiments/search-datasets",
      { experiment_ids: ["0"] },
    );
    assert.deepEqual(summaries, {
      dataset_summaries: [{ experiment_id: "0", name: "stories", digest: "abcd1234", context: "training" }],
    });
    await t.err(
      400,
      "INVALID_PARAMETER_VALUE",
      "POST",
      "/ajax-api/2.0/mlflow/experiments/search-datasets",
      {},
    );

    // get_latest_versions: newest first, as the live MLflow server answered.
    await t.ok("POST", "registered-models/create", { name: "L" });
    for (let i = 0; i < 3; i++) {
      await t.ok("POST", "model-versions/create", {
        name: "L",
        source: `mlflow-artifacts:/0/${runId}/artifacts/model`,
        run_id: runId,
      });
    }
    await t.ok("POST", "model-versions/transition-stage", {
      name: "L",
      version: "1",
      stage: "Production",
      archive_existing_versions: false,
    });
    const latest = await t.ok("POST", "registered-models/get-latest-versions", { name: "L" });
    assert.deepEqual(latest.model_versions.map((v: J) => v.version), ["3", "1"]);

    // An empty artifact: no file_size (proto3 JSON leaves out the zero), as MLflow lists it.
    const put = await t.app.request(`/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/empty.txt`, {
      method: "PUT",
      body: new Uint8Array(0),
    });
    assert.equal(put.status, 200);
    const { files } = await t.ok("GET", "artifacts/list", { run_id: runId });
    assert.deepEqual(files, [{ path: "empty.txt", is_dir: false }]);

    // params.x IN (…): MLflow's value error, not a comparator error.
    const msg = await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search", {
      experiment_ids: ["0"],
      filter: "params.x IN ('a','b')",
    });
    assert.match(
      msg,
      /^Expected a quoted string value for parameter \(e\.g\. 'my-value'\)\. Got value \('a','b'\)/,
    );
  } finally {
    await t.done();
  }
});
