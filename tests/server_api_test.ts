/**
 * Contract tests of the tracking server's MLflow REST API, in-process through `app.request()`: every endpoint's
 * success shape (MLflow JSON field names, paging) and its errors (`{"error_code", "message"}` + status).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp } from "../src/server/mod.ts";
import { apiClient, type J } from "./_api_client.ts";
import { FileStore } from "../src/tracking/mod.ts";

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "st-api-" });
  const app = createServerApp({
    backendStoreUri: join(dir, "mlruns"),
    artifactsDestination: join(dir, "art"),
  });
  const { call, ok, err } = apiClient(app);
  return { dir, app, call, ok, err, done: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("experiments: create, get, get-by-name, search with paging, update, tags, delete/restore", async () => {
  const t = await setup();
  try {
    const { experiment_id: id } = await t.ok("POST", "experiments/create", {
      name: "exp-a",
      tags: [{ key: "team", value: "x" }],
    });
    assert.match(id, /^\d+$/);
    const { experiment } = await t.ok("GET", "experiments/get", { experiment_id: id });
    assert.equal(experiment.name, "exp-a");
    assert.equal(experiment.artifact_location, `mlflow-artifacts:/${id}`);
    assert.equal(experiment.lifecycle_stage, "active");
    assert.deepEqual(experiment.tags, [{ key: "team", value: "x" }]);
    assert.equal(typeof experiment.creation_time, "number");
    assert.equal(
      (await t.ok("GET", "experiments/get-by-name", { experiment_name: "exp-a" })).experiment.experiment_id,
      id,
    );
    const custom = await t.ok("POST", "experiments/create", {
      name: "exp-b",
      artifact_location: join(t.dir, "elsewhere"),
    });
    assert.equal(
      (await t.ok("GET", "experiments/get", { experiment_id: custom.experiment_id })).experiment
        .artifact_location,
      join(t.dir, "elsewhere"),
    );
    await t.ok("POST", "experiments/create", { name: "exp-c" });

    const p1 = await t.ok("POST", "experiments/search", { max_results: 2, order_by: ["name ASC"] });
    assert.deepEqual(p1.experiments.map((e: J) => e.name), ["Default", "exp-a"]);
    assert.ok(p1.next_page_token);
    const p2 = await t.ok("GET", "experiments/search", {
      max_results: 2,
      order_by: "name ASC",
      page_token: p1.next_page_token,
    });
    assert.deepEqual(p2.experiments.map((e: J) => e.name), ["exp-b", "exp-c"]);
    assert.equal(p2.next_page_token, undefined);
    const filtered = await t.ok("POST", "experiments/search", {
      filter: "name LIKE 'exp-%' AND tags.team = 'x'",
    });
    assert.deepEqual(filtered.experiments.map((e: J) => e.name), ["exp-a"]);

    await t.ok("POST", "experiments/update", { experiment_id: id, new_name: "exp-renamed" });
    await t.ok("POST", "experiments/set-experiment-tag", { experiment_id: id, key: "k", value: "v" });
    await t.ok("POST", "experiments/delete-experiment-tag", { experiment_id: id, key: "team" });
    const after = (await t.ok("GET", "experiments/get", { experiment_id: id })).experiment;
    assert.equal(after.name, "exp-renamed");
    assert.deepEqual(after.tags, [{ key: "k", value: "v" }]);
    await t.ok("POST", "experiments/delete", { experiment_id: id });
    assert.equal(
      (await t.ok("GET", "experiments/get", { experiment_id: id })).experiment.lifecycle_stage,
      "deleted",
    );
    const deleted = await t.ok("POST", "experiments/search", { view_type: "DELETED_ONLY" });
    assert.deepEqual(deleted.experiments.map((e: J) => e.experiment_id), [id]);
    await t.ok("POST", "experiments/restore", { experiment_id: id });

    await t.err(400, "RESOURCE_ALREADY_EXISTS", "POST", "experiments/create", { name: "exp-b" });
    assert.match(
      await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/create", {}),
      /Missing value for required parameter 'name'/,
    );
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/create", { name: 123 });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/create", {
      name: "x",
      artifact_location: "http://h/#/../../etc",
    });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "experiments/get", { experiment_id: "12345" });
    assert.match(
      await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "experiments/get-by-name", {
        experiment_name: "nope",
      }),
      /Could not find experiment with name 'nope'/,
    );
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/search", { view_type: "SOMETIMES" });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/search", { page_token: "%%%" });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/search", { filter: "name ==== 'x'" });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "experiments/delete-experiment-tag", {
      experiment_id: id,
      key: "nope",
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/set-experiment-tag", {
      experiment_id: id,
      key: "k",
    });
  } finally {
    await t.done();
  }
});

Deno.test("runs: create, get, update, log-metric/parameter/batch, tags, search, histories, delete/restore", async () => {
  const t = await setup();
  try {
    const { experiment_id: exp } = await t.ok("POST", "experiments/create", { name: "runs" });
    const { run } = await t.ok("POST", "runs/create", {
      experiment_id: exp,
      run_name: "first",
      start_time: 1000,
      tags: [{ key: "mlflow.user", value: "ann" }],
    });
    const id = run.info.run_id;
    assert.equal(run.info.run_uuid, id);
    assert.equal(run.info.status, "RUNNING");
    assert.equal(run.info.start_time, 1000);
    assert.equal(run.info.user_id, "ann");
    assert.equal(run.info.artifact_uri, `mlflow-artifacts:/${exp}/${id}/artifacts`);

    await t.ok("POST", "runs/log-metric", { run_id: id, key: "loss", value: 2.5, timestamp: 10, step: 0 });
    await t.ok("POST", "runs/log-metric", {
      run_uuid: id,
      key: "loss",
      value: "NaN",
      timestamp: 11,
      step: 1,
    });
    await t.ok("POST", "runs/log-metric", {
      run_id: id,
      key: "loss",
      value: 1.25,
      timestamp: "12",
      step: "2",
    });
    await t.ok("POST", "runs/log-parameter", { run_id: id, key: "lr", value: "0.01" });
    await t.ok("POST", "runs/set-tag", { run_id: id, key: "note", value: "hello" });
    await t.ok("POST", "runs/set-tag", { run_id: id, key: "gone", value: "x" });
    await t.ok("POST", "runs/delete-tag", { run_id: id, key: "gone" });
    await t.ok("POST", "runs/log-batch", {
      run_id: id,
      metrics: Array.from(
        { length: 10 },
        (_, i) => ({ key: "acc", value: i / 10, timestamp: 100 + i, step: i }),
      ),
      params: [{ key: "layers", value: "4" }],
      tags: [{ key: "phase", value: "train" }],
    });
    await t.ok("POST", "runs/log-model", {
      run_id: id,
      model_json: JSON.stringify({
        run_id: id,
        artifact_path: "model",
        utc_time_created: "2026-11-27 00:00:00.000000",
        flavors: { storyteller: { config: { big: 1 }, format: "safetensors" } },
      }),
    });

    const got = (await t.ok("GET", "runs/get", { run_id: id })).run;
    const metrics = Object.fromEntries(got.data.metrics.map((m: J) => [m.key, m]));
    assert.equal(metrics.loss.value, 1.25);
    assert.equal(metrics.acc.step, 9);
    const tags = Object.fromEntries(got.data.tags.map((x: J) => [x.key, x.value]));
    assert.equal(tags.note, "hello");
    assert.equal(tags.gone, undefined);
    assert.equal(tags["mlflow.runName"], "first");
    assert.deepEqual(JSON.parse(tags["mlflow.log-model.history"])[0].flavors, {
      storyteller: { format: "safetensors" },
    });
    assert.deepEqual(Object.fromEntries(got.data.params.map((x: J) => [x.key, x.value])), {
      lr: "0.01",
      layers: "4",
    });

    const hist = await t.ok("GET", "metrics/get-history", { run_id: id, metric_key: "loss" });
    assert.deepEqual(hist.metrics.map((m: J) => m.value), [2.5, "NaN", 1.25]);
    assert.equal(hist.metrics[0].run_id, id);
    const h1 = await t.ok("GET", "metrics/get-history", { run_id: id, metric_key: "acc", max_results: 4 });
    assert.equal(h1.metrics.length, 4);
    const h2 = await t.ok("GET", "metrics/get-history", {
      run_id: id,
      metric_key: "acc",
      max_results: 25000,
      page_token: h1.next_page_token,
    });
    assert.deepEqual(h2.metrics.map((m: J) => m.step), [4, 5, 6, 7, 8, 9]);
    assert.equal(h2.next_page_token, undefined);

    const { run: run2 } = await t.ok("POST", "runs/create", { experiment_id: exp, run_name: "second" });
    await t.ok("POST", "runs/log-batch", {
      run_id: run2.info.run_id,
      metrics: Array.from({ length: 10 }, (_, i) => ({ key: "acc", value: i, timestamp: 1, step: i * 2 })),
    });
    const bulk = await t.ok("GET", "metrics/get-history-bulk-interval", {
      run_ids: [id, run2.info.run_id],
      metric_key: "acc",
      start_step: 0,
      end_step: 9,
      max_results: 4,
    });
    const steps = [...new Set(bulk.metrics.map((m: J) => m.step))].sort((a, b) =>
      (a as number) - (b as number)
    );
    assert.equal(steps.length, 4);
    assert.equal(steps[0], 0);
    assert.equal(steps[3], 9);
    assert.ok(bulk.metrics.every((m: J) => m.run_id === id || m.run_id === run2.info.run_id));

    const upd = await t.ok("POST", "runs/update", {
      run_id: id,
      status: "FINISHED",
      end_time: 5000,
      run_name: "renamed",
    });
    assert.equal(upd.run_info.status, "FINISHED");
    assert.equal(upd.run_info.end_time, 5000);
    assert.equal(upd.run_info.run_name, "renamed");

    const s1 = await t.ok("POST", "runs/search", {
      experiment_ids: [exp],
      filter: "metrics.loss < 2 AND params.lr = '0.01'",
    });
    assert.deepEqual(s1.runs.map((r: J) => r.info.run_id), [id]);
    const s2 = await t.ok("POST", "runs/search", {
      experiment_ids: [exp],
      max_results: 1,
      order_by: ["attributes.run_name ASC"],
    });
    assert.equal(s2.runs[0].info.run_name, "renamed");
    const s3 = await t.ok("POST", "runs/search", {
      experiment_ids: [exp],
      max_results: 1,
      order_by: ["attributes.run_name ASC"],
      page_token: s2.next_page_token,
    });
    assert.equal(s3.runs[0].info.run_name, "second");
    assert.deepEqual(
      await t.ok("POST", "runs/search", { experiment_ids: [exp], filter: "metrics.loss > 100" }),
      {},
    );

    await t.ok("POST", "runs/delete", { run_id: id });
    assert.equal((await t.ok("GET", "runs/get", { run_id: id })).run.info.lifecycle_stage, "deleted");
    const s4 = await t.ok("POST", "runs/search", { experiment_ids: [exp], run_view_type: "DELETED_ONLY" });
    assert.deepEqual(s4.runs.map((r: J) => r.info.run_id), [id]);
    await t.ok("POST", "runs/restore", { run_id: id });

    // Errors.
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "runs/get", {
      run_id: "0123456789abcdef0123456789abcdef",
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "GET", "runs/get", {});
    await t.err(400, "INVALID_PARAMETER_VALUE", "GET", "runs/get", { run_id: "../../etc" });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/create", { experiment_id: "999" });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-metric", {
      run_id: id,
      key: "x",
      value: 1,
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-metric", {
      run_id: id,
      key: "x",
      value: "abc",
      timestamp: 1,
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-metric", {
      run_id: id,
      key: "x",
      value: 1,
      timestamp: 1,
      step: 1.5,
    });
    assert.match(
      await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-parameter", {
        run_id: id,
        key: "lr",
        value: "0.02",
      }),
      /Changing param values is not allowed/,
    );
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-parameter", {
      run_id: id,
      key: "../x",
      value: "1",
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch", {
      run_id: id,
      metrics: Array.from({ length: 1001 }, () => ({ key: "m", value: 1, timestamp: 1 })),
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch", { run_id: id, metrics: "nope" });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/update", { run_id: id, status: "DONE" });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-model", { run_id: id, model_json: "{}" });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search", {
      experiment_ids: [exp],
      max_results: 50001,
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search", {
      experiment_ids: [exp],
      filter: "metrics.loss <",
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "GET", "metrics/get-history", { run_id: id });
    await t.err(400, "INVALID_PARAMETER_VALUE", "GET", "metrics/get-history-bulk-interval", {
      run_ids: id,
      metric_key: "acc",
      start_step: 1,
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "GET", "metrics/get-history-bulk-interval", {
      run_ids: id,
      metric_key: "acc",
      max_results: 2501,
    });
  } finally {
    await t.done();
  }
});

Deno.test("artifacts: proxy upload/download/list/delete and the run's artifacts/list and get-artifact", async () => {
  const t = await setup();
  try {
    const { run } = await t.ok("POST", "runs/create", { experiment_id: "0" });
    const id = run.info.run_id;
    const base = `/api/2.0/mlflow-artifacts/artifacts/0/${id}/artifacts`;
    for (
      const [path, body] of [["model/MLmodel", "flavors: {}\n"], ["model/w.bin", "0123456789"], [
        "page.html",
        "<script>alert(1)</script>",
      ], ["note.txt", "hi"]]
    ) {
      const res = await t.app.request(`${base}/${path}`, { method: "PUT", body });
      assert.equal(res.status, 200, await res.text());
    }
    const list = await t.ok("GET", "artifacts/list", { run_id: id });
    assert.equal(list.root_uri, run.info.artifact_uri);
    assert.deepEqual(list.files, [
      { path: "model", is_dir: true },
      { path: "note.txt", is_dir: false, file_size: 2 },
      { path: "page.html", is_dir: false, file_size: 25 },
    ]);
    const sub = await t.ok("GET", "artifacts/list", { run_id: id, path: "model" });
    assert.deepEqual(sub.files.map((f: J) => f.path), ["model/MLmodel", "model/w.bin"]);
    const proxyList = await t.ok("GET", `/api/2.0/mlflow-artifacts/artifacts`, {
      path: `0/${id}/artifacts/model`,
    });
    assert.deepEqual(proxyList.files, [
      { path: "MLmodel", is_dir: false, file_size: 12 },
      { path: "w.bin", is_dir: false, file_size: 10 },
    ]);
    assert.deepEqual(await t.ok("GET", `/api/2.0/mlflow-artifacts/artifacts`, { path: "nothing/here" }), {});

    const txt = await t.app.request(`${base}/note.txt`);
    assert.equal(await txt.text(), "hi");
    assert.equal(txt.headers.get("Content-Type"), "text/plain; charset=utf-8");
    assert.equal(txt.headers.get("X-Content-Type-Options"), "nosniff");
    for (const url of [`${base}/page.html`, `/get-artifact?run_id=${id}&path=page.html`]) {
      const html = await t.app.request(url);
      assert.equal(html.status, 200);
      assert.match(html.headers.get("Content-Disposition") ?? "", /^attachment/);
      assert.equal(html.headers.get("Content-Security-Policy"), "sandbox");
      assert.notEqual(html.headers.get("Content-Type"), "text/html");
      await html.body?.cancel();
    }
    const viaUi = await t.app.request(`/get-artifact?run_id=${id}&path=model/w.bin`);
    assert.equal(await viaUi.text(), "0123456789");

    await t.ok("POST", "registered-models/create", { name: "M" });
    await t.ok("POST", "model-versions/create", { name: "M", source: `runs:/${id}/model`, run_id: id });
    const mvFile = await t.app.request(`/model-versions/get-artifact?name=M&version=1&path=MLmodel`);
    assert.equal(await mvFile.text(), "flavors: {}\n");

    const del = await t.app.request(`${base}/note.txt`, { method: "DELETE" });
    assert.equal(del.status, 200);
    await del.body?.cancel();
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", `${base}/note.txt`);
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "DELETE", `${base}/note.txt`);
    await t.err(400, "INVALID_PARAMETER_VALUE", "GET", `${base}/model`);
    await t.err(400, "INVALID_PARAMETER_VALUE", "GET", "artifacts/list", { run_id: id, path: "../.." });
    await t.err(501, "NOT_IMPLEMENTED", "POST", `/api/2.0/mlflow-artifacts/mpu/create/x`, {
      path: "x",
      num_parts: 2,
    });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", `/get-artifact`, { run_id: id, path: "missing.txt" });
  } finally {
    await t.done();
  }
});

Deno.test("registry: models, versions, tags, aliases, stages, search, download URIs", async () => {
  const t = await setup();
  try {
    const { run } = await t.ok("POST", "runs/create", { experiment_id: "0" });
    const id = run.info.run_id;
    const created = await t.ok("POST", "registered-models/create", {
      name: "Story",
      description: "tiny",
      tags: [{ key: "t", value: "1" }],
    });
    assert.equal(created.registered_model.name, "Story");
    assert.equal(created.registered_model.description, "tiny");
    const v1 = (await t.ok("POST", "model-versions/create", {
      name: "Story",
      source: `runs:/${id}/model`,
      run_id: id,
    }))
      .model_version;
    assert.equal(v1.version, "1");
    assert.equal(v1.status, "READY");
    assert.equal(v1.run_id, id);
    await t.ok("POST", "model-versions/create", {
      name: "Story",
      source: `mlflow-artifacts:/0/${id}/artifacts/model`,
      tags: [{ key: "k", value: "v" }],
      description: "second",
    });
    assert.equal(
      (await t.ok("GET", "model-versions/get", { name: "Story", version: "2" })).model_version.description,
      "second",
    );
    await t.ok("PATCH", "model-versions/update", { name: "Story", version: "2", description: "updated" });
    await t.ok("POST", "model-versions/set-tag", { name: "Story", version: "2", key: "k2", value: "v2" });
    await t.ok("DELETE", "model-versions/delete-tag", { name: "Story", version: "2", key: "k" });
    const v2 = (await t.ok("GET", "model-versions/get", { name: "Story", version: "2" })).model_version;
    assert.equal(v2.description, "updated");
    assert.deepEqual(v2.tags, [{ key: "k2", value: "v2" }]);

    await t.ok("POST", "registered-models/alias", { name: "Story", alias: "champion", version: "1" });
    assert.equal(
      (await t.ok("GET", "registered-models/alias", { name: "Story", alias: "champion" })).model_version
        .version,
      "1",
    );
    const staged = await t.ok("POST", "model-versions/transition-stage", {
      name: "Story",
      version: "2",
      stage: "production",
      archive_existing_versions: true,
    });
    assert.equal(staged.model_version.current_stage, "Production");
    const latest = await t.ok("POST", "registered-models/get-latest-versions", {
      name: "Story",
      stages: ["Production"],
    });
    assert.deepEqual(latest.model_versions.map((v: J) => v.version), ["2"]);
    assert.equal(
      (await t.ok("GET", "registered-models/get-latest-versions", { name: "Story" })).model_versions.length,
      2,
    );
    assert.equal(
      (await t.ok("GET", "model-versions/get-download-uri", { name: "Story", version: "2" })).artifact_uri,
      `mlflow-artifacts:/0/${id}/artifacts/model`,
    );
    const found = await t.ok("GET", "model-versions/search", { filter: `run_id = '${id}'` });
    assert.deepEqual(found.model_versions.map((v: J) => v.version), ["1"]);

    await t.ok("POST", "registered-models/set-tag", { name: "Story", key: "owner", value: "me" });
    await t.ok("DELETE", "registered-models/delete-tag", { name: "Story", key: "t" });
    await t.ok("PATCH", "registered-models/update", { name: "Story", description: "new" });
    const got = (await t.ok("GET", "registered-models/get", { name: "Story" })).registered_model;
    assert.equal(got.description, "new");
    assert.deepEqual(got.tags, [{ key: "owner", value: "me" }]);
    assert.deepEqual(got.aliases, [{ alias: "champion", version: "1" }]);
    await t.ok("POST", "registered-models/create", { name: "Other" });
    const page = await t.ok("GET", "registered-models/search", { max_results: 1 });
    assert.equal(page.registered_models[0].name, "Other");
    const page2 = await t.ok("GET", "registered-models/search", {
      max_results: 1,
      page_token: page.next_page_token,
    });
    assert.equal(page2.registered_models[0].name, "Story");
    assert.equal(
      (await t.ok("GET", "registered-models/search", { filter: "name LIKE 'St%'" })).registered_models.length,
      1,
    );
    await t.ok("POST", "registered-models/rename", { name: "Other", new_name: "Other2" });
    await t.ok("DELETE", "registered-models/alias", { name: "Story", alias: "champion" });
    await t.ok("DELETE", "model-versions/delete", { name: "Story", version: "1" });
    await t.ok("DELETE", "registered-models/delete", { name: "Other2" });

    // Errors.
    assert.match(
      await t.err(400, "RESOURCE_ALREADY_EXISTS", "POST", "registered-models/create", { name: "Story" }),
      /already exists/,
    );
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "registered-models/create", { name: "a/b" });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "registered-models/get", { name: "Nope" });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "model-versions/get", { name: "Story", version: "1" });
    await t.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "model-versions/create", {
      name: "Nope",
      source: `runs:/${id}/m`,
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "model-versions/create", { name: "Story" });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "registered-models/alias", {
      name: "Story",
      alias: "v1",
      version: "2",
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "GET", "registered-models/alias", {
      name: "Story",
      alias: "unknown",
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "model-versions/transition-stage", {
      name: "Story",
      version: "2",
      stage: "Production",
    });
    await t.err(400, "INVALID_PARAMETER_VALUE", "POST", "model-versions/transition-stage", {
      name: "Story",
      version: "2",
      stage: "Nowhere",
      archive_existing_versions: false,
    });
  } finally {
    await t.done();
  }
});

Deno.test("protocol: ajax-api alias, content type, bad JSON, unknown endpoints, health and version", async () => {
  const t = await setup();
  try {
    const viaAjax = await t.ok("GET", "/ajax-api/2.0/mlflow/experiments/get", { experiment_id: "0" });
    assert.equal(viaAjax.experiment.name, "Default");
    const wrongType = await t.app.request("/api/2.0/mlflow/experiments/create", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ name: "x" }),
    });
    assert.equal(wrongType.status, 400);
    assert.match((await wrongType.json()).message, /Content-Type must be one of \['application\/json'\]/);
    const badJson = await t.app.request("/api/2.0/mlflow/experiments/create", {
      method: "POST",
      headers: { "Content-Type": "application/json; charset=utf-8" },
      body: "{not json",
    });
    assert.match((await badJson.json()).message, /Missing value for required parameter 'name'/);
    const doubled = await t.app.request("/api/2.0/mlflow/experiments/create", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(JSON.stringify({ name: "double-encoded" })),
    });
    assert.equal(doubled.status, 200);
    await doubled.body?.cancel();
    await t.err(404, "ENDPOINT_NOT_FOUND", "GET", "experiments/nope");
    await t.err(404, "ENDPOINT_NOT_FOUND", "GET", "/api/2.0/other/thing");
    await t.err(404, "ENDPOINT_NOT_FOUND", "DELETE", "experiments/get");
    const health = await t.app.request("/health");
    assert.equal(await health.text(), "OK");
    assert.match(await (await t.app.request("/version")).text(), /^\d+\.\d+\.\d+/);
    const big = await t.app.request("/api/2.0/mlflow/experiments/create", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "x".repeat(17 * 1024 * 1024) }),
    });
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error_code, "REQUEST_LIMIT_EXCEEDED");
  } finally {
    await t.done();
  }
});

Deno.test("artifact uploads have their own limit; artifact serving can be turned off", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-api-lim-" });
  try {
    const app = createServerApp({
      backendStoreUri: join(dir, "mlruns"),
      artifactsDestination: join(dir, "art"),
      maxArtifactBytes: 100,
      maxBodyBytes: 50,
    });
    const ok = await app.request("/api/2.0/mlflow-artifacts/artifacts/a.bin", {
      method: "PUT",
      body: new Uint8Array(100),
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const big = await app.request("/api/2.0/mlflow-artifacts/artifacts/b.bin", {
      method: "PUT",
      body: new Uint8Array(101),
    });
    assert.equal(big.status, 413);
    await big.body?.cancel();
    assert.deepEqual([...Deno.readDirSync(join(dir, "art"))].map((e) => e.name), ["a.bin"]);

    const off = createServerApp({ backendStoreUri: join(dir, "mlruns2"), artifactsDestination: null });
    const res = await off.request("/api/2.0/mlflow-artifacts/artifacts/a.bin", { method: "PUT", body: "x" });
    assert.equal(res.status, 404);
    await res.body?.cancel();
    const exp = await off.request("/api/2.0/mlflow/experiments/get?experiment_id=0");
    assert.match((await exp.json()).experiment.artifact_location, /^file:\/\//);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cached searches see writes through the server and through any FileStore at once", async () => {
  const t = await setup();
  try {
    const { experiment_id: exp } = await t.ok("POST", "experiments/create", { name: "cache" });
    const body = { experiment_ids: [exp], filter: "metrics.m > 0" };
    const count = async () => ((await t.ok("POST", "runs/search", body)).runs ?? []).length;
    assert.equal(await count(), 0);
    const { run } = await t.ok("POST", "runs/create", { experiment_id: exp });
    await t.ok("POST", "runs/log-metric", { run_id: run.info.run_id, key: "m", value: 1, timestamp: 1 });
    assert.equal(await count(), 1);
    assert.equal(await count(), 1);
    // Another process's writer (a trainer) goes straight to the files.
    const other = new FileStore(join(t.dir, "mlruns"));
    const r2 = await other.createRun({ experimentId: exp });
    await other.logMetric(r2.info.runId, "m", 2);
    assert.equal(await count(), 2);
    await other.logMetric(run.info.run_id, "m", -1, { step: 5 });
    assert.equal(await count(), 1);
    await t.ok("POST", "runs/delete", { run_id: r2.info.runId });
    assert.equal(await count(), 0);
  } finally {
    await t.done();
  }
});
