/**
 * Contract test for a real MLflow 3 Python client against the tracking server, through `app.request()`: the
 * exact call sequences of spec §3.3 — logging a run with an input dataset and `pyfunc.log_model(name="model")`,
 * `register_model("runs:/<run>/model")`, then loading `models:/Name@alias`, `models:/Name/1` and
 * `runs:/<run>/model` — checking every response field the client reads and the files on disk (§1.6, §1.7, §2).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createServerApp } from "../src/server/mod.ts";
import { apiClient, type J } from "./_api_client.ts";

const md5 = (s: string) => createHash("md5").update(s, "utf8").digest("hex");
const TS = /(?<=timestamp: )\d{13}$/gm;

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "st-mlflow3-" });
  const root = join(dir, "mlruns"), art = join(dir, "art");
  const app = createServerApp({ backendStoreUri: root, artifactsDestination: art });
  const { call, ok, err } = apiClient(app);
  const put = async (path: string, bytes: Uint8Array<ArrayBuffer>) => {
    const res = await app.request(`/api/2.0/mlflow-artifacts/artifacts/${path}`, {
      method: "PUT",
      body: bytes,
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), {});
  };
  const get = async (path: string) => {
    const res = await app.request(path);
    assert.equal(res.status, 200, path);
    return new Uint8Array(await res.arrayBuffer());
  };
  return { dir, root, art, app, call, ok, err, put, get, done: () => Deno.remove(dir, { recursive: true }) };
}

const MODEL_FILES: Record<string, string> = {
  "MLmodel": "artifact_path: x\nflavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n",
  "python_model.pkl": "\u0080\u0004pickle-bytes",
  "requirements.txt": "mlflow==3.6.0\n",
  "code/story.py": "print('once upon a time')\n",
};

Deno.test("MLflow 3 client: log a run with a dataset input and log_model, register it, load it back", async () => {
  const t = await setup();
  const enc = new TextEncoder();
  try {
    // ---- mlflow.set_experiment + start_run + logging ---------------------------------------------------------
    const { experiment_id: exp } = await t.ok("POST", "experiments/create", { name: "stories" });
    const { run } = await t.ok("POST", "runs/create", {
      experiment_id: exp,
      user_id: "alice",
      start_time: 1795758701315,
      run_name: "first-run",
      tags: [{ key: "mlflow.user", value: "alice" }, { key: "mlflow.source.type", value: "LOCAL" }],
    });
    const runId: string = run.info.run_id;
    assert.equal(run.info.artifact_uri, `mlflow-artifacts:/${exp}/${runId}/artifacts`);
    assert.deepEqual(run.inputs, {});
    assert.deepEqual(run.outputs, {});
    await t.ok("POST", "runs/log-parameter", { run_id: runId, run_uuid: runId, key: "lr", value: "0.001" });
    await t.ok("POST", "runs/log-metric", { run_id: runId, key: "loss", value: 1.5, timestamp: 1, step: 0 });
    await t.ok("POST", "runs/set-tag", { run_id: runId, key: "stage", value: "pretrain" });
    await t.ok("POST", "runs/log-batch", {
      run_id: runId,
      metrics: [{ key: "loss", value: 1.25, timestamp: 2, step: 1 }],
      params: [{ key: "layers", value: "4" }],
      tags: [],
    });
    const dataset = {
      name: "tinystories",
      digest: "90307e28",
      source_type: "code",
      source: '{"tags": {"mlflow.user": "alice"}}',
      schema: '{"mlflow_colspec": [{"type": "string", "name": "text"}]}',
      profile: '{"num_rows": 2}',
    };
    const logInputs = {
      run_id: runId,
      datasets: [{ tags: [{ key: "mlflow.data.context", value: "training" }], dataset }],
    };
    await t.ok("POST", "runs/log-inputs", logInputs);
    await t.ok("POST", "runs/log-inputs", logInputs); // re-logging is a no-op
    const withInputs = (await t.ok("GET", "runs/get", { run_id: runId, run_uuid: runId })).run;
    assert.deepEqual(withInputs.inputs, {
      dataset_inputs: [{ tags: [{ key: "mlflow.data.context", value: "training" }], dataset }],
    });
    const datasetId = md5("tinystories" + "90307e28");
    const inputDir = join(t.root, exp, runId, "inputs", md5(datasetId + runId));
    assert.equal(
      Deno.readTextFileSync(join(inputDir, "meta.yaml")),
      `destination_id: ${datasetId}\ndestination_type: RUN\nsource_id: ${datasetId}\nsource_type: DATASET\n` +
        "tags:\n  mlflow.data.context: training\n",
    );
    const dsMeta = Deno.readTextFileSync(join(t.root, exp, "datasets", datasetId, "meta.yaml"));
    assert.deepEqual(dsMeta.split("\n").filter((l) => /^\w/.test(l)).map((l) => l.split(":")[0]), [
      "digest",
      "name",
      "profile",
      "schema",
      "source",
      "source_type",
    ]);

    // ---- mlflow.pyfunc.log_model(name="model") ---------------------------------------------------------------
    await t.ok("GET", "runs/get", { run_id: runId, run_uuid: runId });
    const created = (await t.ok("POST", "logged-models", {
      experiment_id: exp,
      name: "model",
      source_run_id: runId,
      params: [{ key: "lr", value: "0.001" }, { key: "layers", value: "4" }],
      tags: [
        { key: "mlflow.user", value: "alice" },
        { key: "mlflow.source.name", value: "train.py" },
        { key: "mlflow.source.type", value: "LOCAL" },
      ],
    })).model;
    const modelId: string = created.info.model_id;
    assert.match(modelId, /^m-[0-9a-f]{32}$/);
    const artifactUri = `mlflow-artifacts:/${exp}/models/${modelId}/artifacts`;
    assert.equal(created.info.experiment_id, exp);
    assert.equal(created.info.name, "model");
    assert.equal(created.info.artifact_uri, artifactUri);
    assert.equal(created.info.status, "LOGGED_MODEL_PENDING");
    assert.equal(created.info.source_run_id, runId);
    assert.equal(typeof created.info.creation_timestamp_ms, "number");
    assert.equal(created.info.last_updated_timestamp_ms, created.info.creation_timestamp_ms);
    assert.deepEqual(
      created.info.tags.map((x: J) => x.key).sort(),
      ["mlflow.source.name", "mlflow.source.type", "mlflow.user"],
    );
    assert.deepEqual(created.data.params, [{ key: "layers", value: "4" }, { key: "lr", value: "0.001" }]);
    assert.deepEqual(
      await t.ok("POST", "runs/outputs", { run_id: runId, models: [{ model_id: modelId, step: 0 }] }),
      {},
    );
    assert.equal((await t.ok("GET", `logged-models/${modelId}`)).model.info.artifact_uri, artifactUri);
    for (const [rel, text] of Object.entries(MODEL_FILES)) {
      await t.put(`${exp}/models/${modelId}/artifacts/${rel}`, enc.encode(text));
    }
    const ready = (await t.ok("PATCH", `logged-models/${modelId}`, {
      model_id: modelId,
      status: "LOGGED_MODEL_READY",
    })).model;
    assert.equal(ready.info.status, "LOGGED_MODEL_READY");
    assert.ok(ready.info.last_updated_timestamp_ms >= ready.info.creation_timestamp_ms);
    await t.ok("POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: 1795758709999 });
    const finished = (await t.ok("GET", "runs/get", { run_id: runId })).run;
    assert.deepEqual(finished.outputs, { model_outputs: [{ model_id: modelId, step: 0 }] });
    assert.equal(finished.info.status, "FINISHED");

    // Files on disk: spec §1.7.
    const modelDir = join(t.root, exp, "models", modelId);
    assert.equal(
      Deno.readTextFileSync(join(modelDir, "meta.yaml")).replace(TS, "T"),
      `artifact_location: ${artifactUri}\ncreation_timestamp: T\nexperiment_id: '${exp}'\n` +
        `last_updated_timestamp: T\nmodel_id: ${modelId}\nmodel_type: null\nname: model\n` +
        `source_run_id: ${runId}\nstatus: 2\nstatus_message: null\n`,
    );
    assert.equal(Deno.readTextFileSync(join(modelDir, "params", "lr")), "0.001");
    assert.equal(Deno.readTextFileSync(join(modelDir, "tags", "mlflow.source.name")), "train.py");
    assert.equal(
      Deno.readTextFileSync(join(t.root, exp, runId, "outputs", modelId, "meta.yaml")),
      `destination_id: ${modelId}\ndestination_type: MODEL_OUTPUT\nsource_id: ${modelId}\n` +
        "source_type: RUN_OUTPUT\nstep: 0\ntags: {}\n",
    );
    for (const [rel, text] of Object.entries(MODEL_FILES)) {
      assert.equal(Deno.readTextFileSync(join(t.art, exp, "models", modelId, "artifacts", rel)), text);
    }

    // ---- mlflow.register_model("runs:/<run>/model", "StoryModel") --------------------------------------------
    const rm = (await t.ok("POST", "registered-models/create", { name: "StoryModel" })).registered_model;
    assert.equal(rm.name, "StoryModel");
    await t.ok("GET", "runs/get", { run_id: runId });
    assert.deepEqual(
      await t.ok("GET", "/api/2.0/mlflow-artifacts/artifacts", { path: `${exp}/${runId}/artifacts/model` }),
      {},
    );
    const found = await t.ok("POST", "logged-models/search", {
      experiment_ids: [exp],
      filter: "name = 'model'",
    });
    assert.equal(found.models.length, 1);
    assert.equal(found.models[0].info.model_id, modelId);
    assert.equal(found.models[0].info.source_run_id, runId);
    assert.equal(found.next_page_token, undefined);
    const mv = (await t.ok("POST", "model-versions/create", {
      name: "StoryModel",
      source: `models:/${modelId}`,
      run_id: runId,
      model_id: modelId,
    })).model_version;
    assert.equal(mv.version, "1");
    assert.equal(mv.source, `models:/${modelId}`);
    assert.equal(mv.run_id, runId);
    assert.equal(mv.model_id, modelId);
    assert.equal(mv.status, "READY");
    const before = (await t.ok("GET", `logged-models/${modelId}`)).model;
    const versions = JSON.parse(before.info.tags.find((x: J) => x.key === "mlflow.modelVersions").value);
    assert.deepEqual(versions, [{ name: "StoryModel", version: "1" }]); // the server records it too
    const clientValue = JSON.stringify([...versions, { name: "StoryModel", version: "1" }]);
    await t.ok("PATCH", `logged-models/${modelId}/tags`, {
      model_id: modelId,
      tags: [{ key: "mlflow.modelVersions", value: clientValue }],
    });
    const after = (await t.ok("GET", `logged-models/${modelId}`)).model;
    assert.deepEqual(after.info.registrations, [{ name: "StoryModel", version: "1" }]); // no duplicate (§10)
    await t.ok("POST", "registered-models/alias", { name: "StoryModel", alias: "champion", version: "1" });
    const vmeta = Deno.readTextFileSync(join(t.root, "models", "StoryModel", "version-1", "meta.yaml"));
    assert.match(vmeta, new RegExp(`^model_id: ${modelId}$`, "m"));
    assert.match(vmeta, new RegExp(`^source: models:/${modelId}$`, "m"));
    assert.match(vmeta, new RegExp(`^storage_location: ${artifactUri}$`, "m"));

    // ---- mlflow.pyfunc.load_model("models:/StoryModel@champion") and ("models:/StoryModel/1") ----------------
    const byAlias = (await t.ok("GET", "registered-models/alias", { name: "StoryModel", alias: "champion" }))
      .model_version;
    assert.equal(byAlias.version, "1");
    assert.deepEqual(byAlias.aliases, ["champion"]);
    const { artifact_uri } = await t.ok("GET", "model-versions/get-download-uri", {
      name: "StoryModel",
      version: byAlias.version,
    });
    assert.equal(artifact_uri, artifactUri);
    const loadAll = async (uri: string) => {
      const base = uri.replace(/^mlflow-artifacts:\//, "");
      const out: Record<string, string> = {};
      const walk = async (path: string) => {
        const { files } = await t.ok("GET", "/api/2.0/mlflow-artifacts/artifacts", { path });
        for (const f of files ?? []) {
          const full = `${path}/${f.path}`;
          if (f.is_dir) await walk(full);
          else {
            assert.equal(typeof f.file_size, "number");
            out[full.slice(base.length + 1)] = new TextDecoder().decode(
              await t.get(`/api/2.0/mlflow-artifacts/artifacts/${full}`),
            );
          }
        }
      };
      await walk(base);
      return out;
    };
    assert.deepEqual(await loadAll(artifact_uri), MODEL_FILES);

    // ---- mlflow.pyfunc.load_model("runs:/<run>/model"): run artifacts are empty, the logged model serves ----
    await t.ok("GET", "runs/get", { run_id: runId });
    const again = await t.ok("POST", "logged-models/search", {
      experiment_ids: [exp],
      filter: "name = 'model'",
    });
    assert.equal(again.models[0].info.artifact_uri, artifactUri);
    const listing = await t.ok("GET", `logged-models/${modelId}/artifacts/directories`);
    assert.equal(listing.root_uri, artifactUri);
    assert.deepEqual(listing.files.map((f: J) => f.path), [
      "MLmodel",
      "code",
      "python_model.pkl",
      "requirements.txt",
    ]);
    const sub = await t.ok("GET", `logged-models/${modelId}/artifacts/directories`, {
      artifact_directory_path: "code",
    });
    assert.deepEqual(sub.files.map((f: J) => f.path), ["code/story.py"]);
    const mlmodel = await t.get(
      `/ajax-api/2.0/mlflow/logged-models/${modelId}/artifacts/files?artifact_file_path=MLmodel`,
    );
    assert.equal(new TextDecoder().decode(mlmodel), MODEL_FILES.MLmodel);
  } finally {
    await t.done();
  }
});

Deno.test("logged models: errors, tags, params, metrics with model_id, delete, search filters/order/paging", async () => {
  const t = await setup();
  try {
    const { experiment_id: exp } = await t.ok("POST", "experiments/create", { name: "e" });
    const runId = (await t.ok("POST", "runs/create", { experiment_id: exp })).run.info.run_id;
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models", { name: "x" });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "logged-models", { experiment_id: "12345" });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", `logged-models/m-${"0".repeat(32)}`);
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models", {
      experiment_id: exp,
      tags: [{ key: "a#b", value: "v" }],
    });
    const a =
      (await t.ok("POST", "logged-models", { experiment_id: exp, name: "alpha", source_run_id: runId }))
        .model.info;
    await new Promise((r) => setTimeout(r, 3));
    const b = (await t.ok("POST", "/ajax-api/2.0/mlflow/logged-models", { experiment_id: exp, name: "beta" }))
      .model.info;
    assert.ok(b.name === "beta" && !b.source_run_id);
    const unnamed = (await t.ok("POST", "logged-models", { experiment_id: exp })).model.info;
    assert.match(unnamed.name, /^[a-z]+-[a-z]+-\d+$/);
    await t.ok("DELETE", `logged-models/${unnamed.model_id}`);

    await t.err(400, "INVALID_PARAMETER_VALUE", "PATCH", `logged-models/${a.model_id}`, {
      model_id: a.model_id,
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "PATCH", `logged-models/${a.model_id}`, { status: "DONE" });
    assert.equal(
      (await t.ok("PATCH", `logged-models/${a.model_id}`, { status: 3 })).model.info.status,
      "LOGGED_MODEL_UPLOAD_FAILED",
    );

    await t.ok("PATCH", `logged-models/${a.model_id}/tags`, { tags: [{ key: "team/x", value: "nlp" }] });
    await t.ok("POST", `logged-models/${a.model_id}/params`, { params: [{ key: "k", value: "1" }] });
    await t.ok("DELETE", `logged-models/${a.model_id}/tags/team/x`);
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "DELETE", `logged-models/${a.model_id}/tags/team/x`);
    await t.ok("POST", "runs/log-metric", {
      run_id: runId,
      key: "acc",
      value: 0.5,
      timestamp: 7,
      step: 2,
      model_id: a.model_id,
    });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-metric", {
      run_id: runId,
      key: "acc",
      value: 0.5,
      timestamp: 7,
      model_id: `m-${"1".repeat(32)}`,
    });
    const got = (await t.ok("GET", `logged-models/${a.model_id}`)).model;
    assert.deepEqual(got.info.tags ?? [], []);
    assert.deepEqual(got.data.params, [{ key: "k", value: "1" }]);
    assert.deepEqual(got.data.metrics, [
      { key: "acc", value: 0.5, timestamp: 7, step: 2, run_id: runId, model_id: a.model_id },
    ]);
    const metricFile = join(t.root, exp, "models", a.model_id, "metrics", "acc");
    assert.equal(Deno.readTextFileSync(metricFile), `7 0.5 2 ${runId}\n`);

    // search: attribute filters, order, paging; deleted models are left out.
    const names = async (body: J) =>
      ((await t.ok("POST", "logged-models/search", { experiment_ids: [exp], ...body })).models ?? [])
        .map((m: J) => m.info.name);
    assert.deepEqual(await names({}), ["beta", "alpha"]); // newest first
    assert.deepEqual(await names({ order_by: [{ field_name: "name", ascending: true }] }), ["alpha", "beta"]);
    assert.deepEqual(await names({ filter: `source_run_id = '${runId}'` }), ["alpha"]);
    assert.deepEqual(await names({ filter: "name LIKE 'b%'" }), ["beta"]);
    const p1 = await t.ok("POST", "logged-models/search", { experiment_ids: [exp], max_results: 1 });
    assert.equal(p1.models.length, 1);
    const p2 = await t.ok("POST", "logged-models/search", {
      experiment_ids: [exp],
      max_results: 1,
      page_token: p1.next_page_token,
    });
    assert.equal(p2.models[0].info.name, "alpha");
    assert.equal(p2.next_page_token, undefined);
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models/search", {});
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models/search", {
      experiment_ids: [exp],
      filter: "bogus = 'x'",
    });

    await t.ok("DELETE", `logged-models/${b.model_id}`);
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", `logged-models/${b.model_id}`);
    assert.equal(
      (await t.ok("GET", `logged-models/${b.model_id}`, { allow_deleted: "true" })).model.info.name,
      "beta",
    );
    assert.match(
      Deno.readTextFileSync(join(t.root, exp, "models", b.model_id, "meta.yaml")),
      /^lifecycle_stage: deleted$/m,
    );
    assert.deepEqual(await names({}), ["alpha"]);

    // outputs and inputs need existing models; registering an unknown logged model fails before writing.
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/outputs", {
      run_id: runId,
      models: [{ model_id: `m-${"2".repeat(32)}`, step: 0 }],
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs", {
      run_id: runId,
      datasets: [{ dataset: { name: "d" } }],
    });
    await t.ok("POST", "runs/log-inputs", { run_id: runId, models: [{ model_id: a.model_id }] });
    const inputs = (await t.ok("GET", "runs/get", { run_id: runId })).run.inputs;
    assert.deepEqual(inputs, { model_inputs: [{ model_id: a.model_id }] });
    await t.ok("POST", "registered-models/create", { name: "M" });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "model-versions/create", {
      name: "M",
      source: `models:/m-${"3".repeat(32)}`,
    });
    assert.equal(
      (await t.ok("GET", "registered-models/get", { name: "M" })).registered_model.latest_versions,
      undefined,
    );
  } finally {
    await t.done();
  }
});
