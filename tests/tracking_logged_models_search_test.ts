/**
 * Logged-model search in the FileStore, MLflow 3's way: `params.<key>` (string operators), `metrics.<key>`
 * (numeric operators on the latest point), `datasets` scoping metric terms, order_by `metrics.<key>` with an
 * optional dataset, and the refusals for wrong operators and value types.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore, type SearchLoggedModelsOptions, TrackingError } from "../src/tracking/mod.ts";

async function fixture() {
  const dir = await Deno.makeTempDir({ prefix: "st-lms-" });
  const s = new FileStore(join(dir, "mlruns"));
  const exp = await s.createExperiment("e");
  const runId = (await s.createRun({ experimentId: exp })).info.runId;
  const make = async (name: string, params: Record<string, string>) => {
    const m = await s.createLoggedModel(exp, { name, sourceRunId: runId, params });
    await new Promise((r) => setTimeout(r, 3)); // distinct creation timestamps
    return m.modelId;
  };
  const a = await make("a", { lr: "0.01", optimizer: "adam" });
  const b = await make("b", { lr: "0.1", optimizer: "AdamW" });
  await make("c", {});
  // a: acc 0.5 then 0.9 on val/d1 (latest 0.9), loss 2 on train/d2; b: acc 0.7 on train/d2; c: nothing.
  s.logLoggedModelMetrics(a, runId, [
    { key: "acc", value: 0.5, timestamp: 1, step: 0, datasetName: "val", datasetDigest: "d1" },
    { key: "acc", value: 0.9, timestamp: 2, step: 1, datasetName: "val", datasetDigest: "d1" },
    { key: "loss", value: 2, timestamp: 2, step: 1, datasetName: "train", datasetDigest: "d2" },
  ]);
  s.logLoggedModelMetrics(b, runId, [
    { key: "acc", value: 0.7, timestamp: 3, step: 0, datasetName: "train", datasetDigest: "d2" },
  ]);
  const names = async (o: Omit<SearchLoggedModelsOptions, "experimentIds">) =>
    (await s.searchLoggedModels({ experimentIds: [exp], ...o })).models.map((m) => m.name);
  const refused = async (o: Omit<SearchLoggedModelsOptions, "experimentIds">, message: RegExp) => {
    await assert.rejects(() => names(o), (e: unknown) => {
      assert.ok(e instanceof TrackingError, String(e));
      assert.equal(e.code, "INVALID_PARAMETER_VALUE");
      assert.match(e.message, message);
      return true;
    });
  };
  return { names, refused, done: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("logged-model search: params.<key> with =, !=, LIKE, ILIKE; other operators and unquoted values refused", async () => {
  const t = await fixture();
  try {
    assert.deepEqual(await t.names({ filterString: "params.lr = '0.01'" }), ["a"]);
    assert.deepEqual(await t.names({ filterString: "param.lr != '0.01'" }), ["b"]); // c has no lr: no match
    assert.deepEqual(await t.names({ filterString: "params.optimizer LIKE 'Adam%'" }), ["b"]);
    assert.deepEqual(await t.names({ filterString: "parameters.optimizer ILIKE 'adam%'" }), ["b", "a"]);
    assert.deepEqual(await t.names({ filterString: "params.`optimizer` = 'adam' AND name = 'a'" }), ["a"]);
    assert.deepEqual(await t.names({ filterString: "params.missing = 'x'" }), []);
    await t.refused({ filterString: "params.lr > '0.01'" }, /Invalid comparator '>'/);
    await t.refused({ filterString: "params.lr = 0.01" }, /Expected a quoted string value for param/);
    await t.refused({ filterString: "bogus.lr = '1'" }, /Invalid entity type 'bogus'.*'metric'.*'parameter'/);
  } finally {
    await t.done();
  }
});

Deno.test("logged-model search: metrics.<key> with every numeric operator on the latest point", async () => {
  const t = await fixture();
  try {
    assert.deepEqual(await t.names({ filterString: "metrics.acc = 0.9" }), ["a"]);
    assert.deepEqual(await t.names({ filterString: "metrics.acc = 0.5" }), []); // not the latest point
    assert.deepEqual(await t.names({ filterString: "metrics.acc != 0.9" }), ["b"]); // c has no acc
    assert.deepEqual(await t.names({ filterString: "metrics.acc < 0.9" }), ["b"]);
    assert.deepEqual(await t.names({ filterString: "metrics.acc <= 0.9" }), ["b", "a"]);
    assert.deepEqual(await t.names({ filterString: "metric.acc > 0.7" }), ["a"]);
    assert.deepEqual(await t.names({ filterString: "metrics.acc >= 0.7 AND params.lr = '0.1'" }), ["b"]);
    assert.deepEqual(await t.names({ filterString: "metrics.loss >= 1e0" }), ["a"]);
    await t.refused({ filterString: "metrics.acc LIKE '0.9'" }, /Invalid comparator 'LIKE'/);
    await t.refused({ filterString: "metrics.acc > '0.5'" }, /Expected numeric value type for metric/);
  } finally {
    await t.done();
  }
});

Deno.test("logged-model search: datasets scope metric terms; alone they keep models with metrics on them", async () => {
  const t = await fixture();
  try {
    const val = [{ datasetName: "val" }], train = [{ datasetName: "train", datasetDigest: "d2" }];
    assert.deepEqual(await t.names({ filterString: "metrics.acc > 0.6", datasets: val }), ["a"]);
    assert.deepEqual(await t.names({ filterString: "metrics.acc > 0.6", datasets: train }), ["b"]);
    assert.deepEqual(await t.names({ filterString: "metrics.acc > 0.6", datasets: [...val, ...train] }), [
      "b",
      "a",
    ]);
    assert.deepEqual(
      await t.names({
        filterString: "metrics.acc > 0",
        datasets: [{ datasetName: "val", datasetDigest: "x" }],
      }),
      [],
    );
    assert.deepEqual(await t.names({ datasets: train }), ["b", "a"]); // a has loss on train
    assert.deepEqual(await t.names({ datasets: val }), ["a"]);
    assert.deepEqual(await t.names({ datasets: val, filterString: "name = 'b'" }), []);
    await t.refused({ datasets: [{ datasetName: "" }] }, /datasets\[0\] has no dataset_name/);
  } finally {
    await t.done();
  }
});

Deno.test("logged-model search: order_by metrics.<key>, optionally on a dataset; models without it last", async () => {
  const t = await fixture();
  try {
    assert.deepEqual(await t.names({ orderBy: [{ fieldName: "metrics.acc", ascending: true }] }), [
      "b",
      "a",
      "c",
    ]);
    assert.deepEqual(await t.names({ orderBy: [{ fieldName: "metrics.acc", ascending: false }] }), [
      "a",
      "b",
      "c",
    ]);
    assert.deepEqual(await t.names({ orderBy: ["metrics.acc DESC"] }), ["a", "b", "c"]);
    // On train only b has acc: a and c tie (no value) and fall back to newest first.
    assert.deepEqual(
      await t.names({ orderBy: [{ fieldName: "metrics.acc", ascending: false, datasetName: "train" }] }),
      ["b", "c", "a"],
    );
    assert.deepEqual(
      await t.names({
        orderBy: [{ fieldName: "metrics.acc", datasetName: "val", datasetDigest: "d1" }, {
          fieldName: "name",
        }],
      }),
      ["a", "b", "c"],
    );
    await t.refused({ orderBy: [{ fieldName: "metrics.acc", datasetDigest: "d1" }] }, /dataset_digest/);
    await t.refused({ orderBy: [{ fieldName: "params.lr" }] }, /Invalid order by key 'params.lr'/);
  } finally {
    await t.done();
  }
});
