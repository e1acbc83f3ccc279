/**
 * `dataset.*` filters through the file store's run index: each run's dataset inputs are indexed (cold, async and
 * sync, from the sidecar), kept current when inputs are logged later — here, by another process, or by a writer
 * that does not journal — and returned with the search results in getRun's shape.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type DatasetInput, FileStore } from "../src/tracking/mod.ts";
import { datasetInput } from "../tools/_bench_store.ts";
import { experimentIndex, experimentIndexAsync, forgetIndex, SIDECAR } from "../src/tracking/run_index.ts";
import type { Run } from "../src/tracking/types.ts";

const MOD = new URL("../src/tracking/mod.ts", import.meta.url).href;

/** A dataset input as training logs it (`context` absent: no context tag). */
const input = datasetInput;

const TRAIN = input("stories", "a1b2c3d4", "training");
const VAL = input("stories-val", "e5f6a7b8", "validation");

async function withStore(fn: (store: FileStore, expId: string) => Promise<void>, staleMs?: number) {
  const tmp = await Deno.makeTempDir({ prefix: "st-search-ds-" });
  forgetIndex();
  try {
    const store = new FileStore(join(tmp, "mlruns"), { staleMs });
    await fn(store, await store.createExperiment("ds"));
  } finally {
    forgetIndex();
    await Deno.remove(tmp, { recursive: true });
  }
}

async function names(store: FileStore, expId: string, filterString: string): Promise<string[]> {
  const { runs } = await store.searchRuns({ experimentIds: [expId], filterString, orderBy: ["run_name"] });
  return runs.map((r) => r.info.runName);
}

async function newRun(
  store: FileStore,
  expId: string,
  name: string,
  inputs: DatasetInput[],
): Promise<string> {
  const { info } = await store.createRun({ experimentId: expId, runName: name });
  if (inputs.length) await store.logInputs(info.runId, { datasets: inputs });
  return info.runId;
}

Deno.test("dataset.* filters search the index; results carry getRun's dataset inputs", async () => {
  await withStore(async (store, expId) => {
    const a = await newRun(store, expId, "a", [TRAIN, VAL]);
    await newRun(store, expId, "b", [input("other", "0badc0de", "training")]);
    await newRun(store, expId, "c", []);
    await newRun(store, expId, "d", [input("notes", "f00d", undefined)]);
    assert.deepEqual(await names(store, expId, "dataset.context = 'validation'"), ["a"]);
    assert.deepEqual(await names(store, expId, "dataset.context = 'training'"), ["a", "b"]);
    assert.deepEqual(await names(store, expId, "dataset.name != 'stories'"), ["a", "b", "d"]);
    assert.deepEqual(await names(store, expId, "dataset.digest IN ('0badc0de', 'f00d')"), ["b", "d"]);
    assert.deepEqual(await names(store, expId, "datasets.name LIKE 'stor%' AND params.x IS NULL"), ["a"]);
    const { runs } = await store.searchRuns({ experimentIds: [expId], filterString: "run_name = 'a'" });
    assert.deepEqual(runs[0].inputs, {
      datasetInputs: (await store.getRun(a)).inputs!.datasetInputs,
      modelInputs: [],
    });
    const c = (await store.searchRuns({ experimentIds: [expId], filterString: "run_name = 'c'" })).runs[0];
    assert.equal(c.inputs, undefined, "a run without inputs carries none");
  });
});

Deno.test("inputs logged after the index is warm are seen by the next search (this process)", async () => {
  await withStore(async (store, expId) => {
    const id = await newRun(store, expId, "late", []);
    assert.deepEqual(await names(store, expId, "dataset.context = 'training'"), []);
    await store.logInputs(id, { datasets: [TRAIN] });
    assert.deepEqual(await names(store, expId, "dataset.context = 'training'"), ["late"]);
    // A search result is a copy: changing it leaves the index alone.
    const { runs } = await store.searchRuns({ experimentIds: [expId] });
    runs[0].inputs!.datasetInputs.length = 0;
    assert.deepEqual(await names(store, expId, "dataset.name = 'stories'"), ["late"]);
  }, Infinity);
});

Deno.test("inputs logged by another process are seen by the next search (the journal, no sweep)", async () => {
  await withStore(async (store, expId) => {
    const id = await newRun(store, expId, "elsewhere", []);
    await newRun(store, expId, "here", [VAL]);
    assert.deepEqual(await names(store, expId, "dataset.context = 'training'"), []);
    const code = `import { FileStore } from "${MOD}";
      const [root, runId, inputs] = Deno.args;
      await new FileStore(root).logInputs(runId, { datasets: JSON.parse(inputs) });`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code, store.root, id, JSON.stringify([TRAIN])],
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(await names(store, expId, "dataset.context = 'training'"), ["elsewhere"]);
    assert.deepEqual(await names(store, expId, "dataset.context LIKE '%'"), ["elsewhere", "here"]);
  }, Infinity);
});

Deno.test("a writer that does not journal (MLflow): its inputs are seen once the run's meta.yaml moves", async () => {
  await withStore(async (store, expId) => {
    const id = await newRun(store, expId, "mlflow-written", []);
    await newRun(store, expId, "other", [VAL]);
    assert.deepEqual(await names(store, expId, "dataset.name = 'stories'"), []);
    // MLflow's layout, written by hand: the dataset once per experiment, the input under the run.
    const expDir = join(store.root, expId), runDir = join(expDir, id);
    const dsId = "40c8ea40c01af70748b852d82b3aca9c";
    await Deno.mkdir(join(expDir, "datasets", dsId), { recursive: true });
    await Deno.writeTextFile(
      join(expDir, "datasets", dsId, "meta.yaml"),
      "digest: a1b2c3d4\nname: stories\nprofile: null\nschema: null\nsource: '{}'\nsource_type: code\n",
    );
    await Deno.mkdir(join(runDir, "inputs", "0123"), { recursive: true });
    await Deno.writeTextFile(
      join(runDir, "inputs", "0123", "meta.yaml"),
      `destination_id: ${dsId}\ndestination_type: RUN\nsource_id: ${dsId}\nsource_type: DATASET\n` +
        "tags:\n  mlflow.data.context: training\n",
    );
    const meta = join(runDir, "meta.yaml");
    await Deno.writeTextFile(meta, (await Deno.readTextFile(meta)).replace("status: 1", "status: 3"));
    assert.deepEqual(await names(store, expId, "dataset.name = 'stories'"), ["mlflow-written"]);
    const [run] =
      (await store.searchRuns({ experimentIds: [expId], filterString: "dataset.name = 'stories'" }))
        .runs;
    assert.deepEqual(run.inputs!.datasetInputs, [{
      dataset: { name: "stories", digest: "a1b2c3d4", sourceType: "code", source: "{}" },
      tags: { "mlflow.data.context": "training" },
    }]);
  }, 0);
});

Deno.test("an input whose dataset meta is missing is skipped, as getRun skips it", async () => {
  await withStore(async (store, expId) => {
    const id = await newRun(store, expId, "orphan", []);
    const dir = join(store.root, expId, id, "inputs", "0456");
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      join(dir, "meta.yaml"),
      "destination_id: x\ndestination_type: RUN\nsource_id: 99\nsource_type: DATASET\ntags: {}\n",
    );
    await store.setTag(id, "touched", "1"); // journaled: the index re-reads the run
    assert.deepEqual((await store.getRun(id)).inputs!.datasetInputs, []);
    assert.deepEqual(await names(store, expId, "dataset.name LIKE '%'"), []);
    const [run] = (await store.searchRuns({ experimentIds: [expId] })).runs;
    assert.equal(run.data.tags.touched, "1");
    assert.equal(run.inputs, undefined);
  });
});

function inputsById(runs: Iterable<Run>): Map<string, unknown> {
  return new Map([...runs].map((r) => [r.info.runId, structuredClone(r.inputs)]));
}

Deno.test("cold (async, sync) and sidecar-warm indexes agree on inputs; each dataset is one object", async () => {
  await withStore(async (store, expId) => {
    for (let i = 0; i < 60; i++) {
      await newRun(store, expId, `r${i}`, i % 3 === 0 ? [] : i % 3 === 1 ? [TRAIN] : [TRAIN, VAL]);
    }
    const expDir = join(store.root, expId);
    // Files older than the index's mtime slack, so the sidecar-warm start re-reads none of them.
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const e of Deno.readDirSync(expDir)) {
      if (e.isDirectory && e.name !== "datasets") {
        Deno.utimeSync(join(expDir, e.name, "meta.yaml"), hourAgo, hourAgo);
      }
    }
    forgetIndex();
    const cold = await experimentIndexAsync(expDir, expId, Infinity, 0);
    const coldRuns = [...cold.runs];
    const sidecar = JSON.parse(await Deno.readTextFile(join(expDir, SIDECAR)));
    assert.equal(sidecar.datasets.length, 2, "the sidecar holds each dataset once");
    const train = (runs: Run[]) =>
      runs.filter((r) => r.inputs).map((r) =>
        r.inputs!.datasetInputs.find((d) => d.dataset.name === "stories")!.dataset
      );
    const withTrain = train(coldRuns);
    assert.equal(withTrain.length, 40);
    assert.ok(withTrain.every((d) => d === withTrain[0]), "runs share one cached dataset object");

    forgetIndex();
    const warm = [...experimentIndex(expDir, expId, Infinity).runs];
    assert.deepEqual(inputsById(warm), inputsById(coldRuns));
    const warmTrain = train(warm);
    assert.ok(warmTrain.every((d) => d === warmTrain[0]), "the sidecar's datasets are shared too");

    forgetIndex();
    await Deno.remove(join(expDir, SIDECAR));
    assert.deepEqual(inputsById(experimentIndex(expDir, expId, Infinity).runs), inputsById(coldRuns));
  });
});
