/**
 * `runs/search` with `dataset.*` filters through the tracking server: the filter, MLflow's JSON shape of the
 * results' `inputs.dataset_inputs`, the errors, and RestClient.searchRuns reading the inputs back over HTTP.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp, listen } from "../src/server/mod.ts";
import { RestClient } from "../src/tracking/mod.ts";
import { apiClient, type J } from "./_api_client.ts";

const SCHEMA = '{"mlflow_colspec": [{"type": "string", "name": "text", "required": true}]}';

function dataset(name: string, digest: string, context: string): J {
  return {
    tags: [{ key: "mlflow.data.context", value: context }],
    dataset: {
      name,
      digest,
      source_type: "local",
      source: `{"uri": "file:///data/${name}.txt"}`,
      schema: SCHEMA,
      profile: '{"num_documents": 15, "num_tokens": 2048}',
    },
  };
}

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "st-api-ds-" });
  const app = createServerApp({
    backendStoreUri: join(dir, "mlruns"),
    artifactsDestination: join(dir, "art"),
  });
  const api = apiClient(app);
  const { experiment_id: expId } = await api.ok("POST", "experiments/create", { name: "datasets" });
  const run = async (name: string, start: number, datasets: J[]) => {
    const { run } = await api.ok("POST", "runs/create", {
      experiment_id: expId,
      run_name: name,
      start_time: start,
    });
    if (datasets.length) await api.ok("POST", "runs/log-inputs", { run_id: run.info.run_id, datasets });
    return run.info.run_id as string;
  };
  const ids = {
    trained: await run("trained", 3, [
      dataset("stories", "90307e28", "training"),
      dataset("val", "1a2b3c4d", "validation"),
    ]),
    other: await run("other", 2, [dataset("other", "5e6f7a8b", "training")]),
    bare: await run("bare", 1, []),
  };
  const search = (filter: string, extra: J = {}) =>
    api.call("POST", "runs/search", { experiment_ids: [expId], filter, ...extra });
  return { dir, app, api, expId, ids, search, done: () => Deno.remove(dir, { recursive: true }) };
}

const names = (json: J) => (json.runs ?? []).map((r: J) => r.info.run_name);

Deno.test("runs/search: dataset.* filters, and each run's inputs in MLflow's JSON shape", async () => {
  const t = await setup();
  try {
    const byName = await t.search("dataset.name = 'stories'");
    assert.equal(byName.status, 200);
    assert.deepEqual(names(byName.json), ["trained"]);
    const inputs = byName.json.runs[0].inputs.dataset_inputs;
    const byContext = Object.fromEntries(inputs.map((d: J) => [d.tags[0].value, d]));
    assert.deepEqual(byContext.training, dataset("stories", "90307e28", "training"));
    assert.deepEqual(byContext.validation, dataset("val", "1a2b3c4d", "validation"));
    assert.equal(
      byName.json.runs[0].inputs.model_inputs,
      undefined,
      "empty lists are left out, as MLflow does",
    );

    assert.deepEqual(names((await t.search("dataset.context = 'training'")).json), ["trained", "other"]);
    assert.deepEqual(names((await t.search("dataset.context = 'validation'")).json), ["trained"]);
    assert.deepEqual(names((await t.search("dataset.digest LIKE '5e6f%'")).json), ["other"]);
    assert.deepEqual(names((await t.search("dataset.name ILIKE 'OTHER'")).json), ["other"]);
    assert.deepEqual(names((await t.search("datasets.name IN ('val', 'other')")).json), ["trained", "other"]);
    // ANY input: `trained` has an input named otherwise; `bare` has none and never matches, != included.
    assert.deepEqual(names((await t.search("dataset.name != 'stories'")).json), ["trained", "other"]);
    assert.deepEqual(names((await t.search("dataset.context NOT IN ('training')")).json), ["trained"]);

    const all = await t.search("");
    const bare = all.json.runs.find((r: J) => r.info.run_name === "bare");
    assert.deepEqual(bare.inputs, {}, "a run without inputs has an empty inputs message");
    const got = (await t.api.ok("GET", "runs/get", { run_id: t.ids.trained })).run.inputs;
    const searched = all.json.runs.find((r: J) => r.info.run_name === "trained").inputs;
    assert.deepEqual(searched, got, "search and runs/get give the same inputs");
  } finally {
    await t.done();
  }
});

Deno.test("runs/search: dataset.* errors are 400 INVALID_PARAMETER_VALUE in MLflow's words", async () => {
  const t = await setup();
  try {
    const cases: [string, RegExp][] = [
      ["dataset.size = '1'", /^Invalid dataset key 'size' specified. Valid keys are/],
      ["dataset.name > 'a'", /^Invalid comparator '>' not one of/],
      ["dataset.name = 5", /^Expected a quoted string value for dataset attributes. Got value 5/],
    ];
    for (const [filter, message] of cases) {
      const r = await t.search(filter);
      assert.equal(r.status, 400, filter);
      assert.equal(r.json.error_code, "INVALID_PARAMETER_VALUE", filter);
      assert.match(r.json.message, message);
    }
    const order = await t.search("", { order_by: ["dataset.name ASC"] });
    assert.equal(order.status, 400);
    assert.match(order.json.message, /Invalid order_by entity type 'dataset'/);
  } finally {
    await t.done();
  }
});

Deno.test("RestClient.searchRuns reads the dataset inputs of a live server's results", async () => {
  const t = await setup();
  const srv = listen(t.app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "tracking server" });
  try {
    const client = new RestClient(srv.url, { maxRetries: 0 });
    const { runs } = await client.searchRuns({
      experimentIds: [t.expId],
      filterString: "dataset.context = 'training'",
      orderBy: ["run_name"],
    });
    assert.deepEqual(runs.map((r) => r.info.runName), ["other", "trained"]);
    assert.deepEqual(runs[0].inputs!.datasetInputs, [{
      dataset: {
        name: "other",
        digest: "5e6f7a8b",
        sourceType: "local",
        source: '{"uri": "file:///data/other.txt"}',
        schema: SCHEMA,
        profile: '{"num_documents": 15, "num_tokens": 2048}',
      },
      tags: { "mlflow.data.context": "training" },
    }]);
    const trained = runs[1].inputs!.datasetInputs.map((d) => [d.tags["mlflow.data.context"], d.dataset.name]);
    assert.deepEqual(trained.sort(), [["training", "stories"], ["validation", "val"]]);
    assert.deepEqual(
      runs[1].inputs!.datasetInputs,
      (await client.getRun(t.ids.trained)).inputs!.datasetInputs,
    );
  } finally {
    await srv.shutdown();
    await t.done();
  }
});
