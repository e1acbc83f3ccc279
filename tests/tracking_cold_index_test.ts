/** The run index's async cold build (parallel reads) gives the same runs as the synchronous build, writes included. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore } from "../src/tracking/mod.ts";
import { experimentIndex, experimentIndexAsync, forgetIndex, SIDECAR } from "../src/tracking/run_index.ts";
import type { DatasetInput, Run } from "../src/tracking/types.ts";

const N_RUNS = 300;

function dataset(name: string, context: string): DatasetInput {
  return {
    dataset: { name, digest: "d1g35t", sourceType: "local", source: `{"uri": "file:///${name}"}` },
    tags: { "mlflow.data.context": context },
  };
}

function byId(runs: Iterable<Run>): Map<string, Run> {
  return new Map([...runs].map((r) => [r.info.runId, structuredClone(r)]));
}

Deno.test("async cold index build equals the sync build, with runs written during the build", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "st-cold-index-" });
  try {
    const store = new FileStore(join(tmp, "mlruns"));
    const expId = await store.createExperiment("cold");
    const expDir = join(store.root, expId);
    const ids: string[] = [];
    for (let i = 0; i < N_RUNS; i++) {
      const { info } = await store.createRun({ experimentId: expId, runName: `r${i}` });
      await store.logBatch(info.runId, {
        params: [{ key: "lr", value: String(i % 7) }, { key: "nested/p", value: `v${i}` }],
        tags: [{ key: "kind", value: i % 2 ? "odd" : "even" }],
        metrics: [
          { key: "loss", value: 1 / (i + 1), timestamp: 1000 + i, step: 0 },
          { key: "loss", value: 0.5 / (i + 1), timestamp: 1001 + i, step: 1 },
          { key: "val/acc", value: i / N_RUNS, timestamp: 1000, step: 0 },
        ],
      });
      // A third of the runs have dataset inputs (the index reads them too).
      if (i % 3 === 0) {
        await store.logInputs(info.runId, {
          datasets: [dataset("train", "training"), dataset("val", "validation")],
        });
      }
      ids.push(info.runId);
    }
    // One long history (read whole, then cached) and a directory that is not a run.
    const points = Array.from(
      { length: 6000 },
      (_, s) => ({ key: "long", value: s / 7, timestamp: 5000 + s, step: s }),
    );
    for (let k = 0; k < points.length; k += 1000) {
      await store.logBatch(ids[0], { metrics: points.slice(k, k + 1000) });
    }
    await Deno.mkdir(join(expDir, "not-a-run"));

    forgetIndex();
    let built = false;
    const first = experimentIndexAsync(expDir, expId, Infinity, 0).finally(() => built = true);
    // A second search meanwhile waits for the first build: it never answers from a half-built index.
    const second = experimentIndexAsync(expDir, expId, Infinity).then((x) => [...x.runs].length);
    // Write while the build reads: new points, tags, a new run, a deleted run (all journaled).
    let writes = 0;
    while (!built) {
      const id = ids[(writes * 37) % N_RUNS];
      await store.logBatch(id, {
        metrics: [{ key: "loss", value: writes, timestamp: 9000 + writes, step: 100 + writes }],
        tags: [{ key: "touched", value: String(writes) }],
      });
      if (writes === 2) await store.createRun({ experimentId: expId, runName: "late" });
      if (writes === 3) await store.deleteRun(ids[5]);
      if (writes === 1) await store.logInputs(ids[1], { datasets: [dataset("late", "training")] });
      writes++;
      await new Promise((r) => setTimeout(r, 0));
    }
    assert.ok(writes > 3, `only ${writes} writes landed during the build: the test proves nothing`);
    assert.ok((await first).generation > 0);
    assert.ok(await second >= N_RUNS, `the second refresh saw ${await second} runs`);
    assert.ok(Deno.statSync(join(expDir, SIDECAR)).size > 0, "a cold build of 300 runs saves the sidecar");

    const asyncRuns = byId((await experimentIndexAsync(expDir, expId, Infinity)).runs);
    forgetIndex();
    await Deno.remove(join(expDir, SIDECAR));
    const syncRuns = byId(experimentIndex(expDir, expId, Infinity).runs);
    assert.equal(syncRuns.size, N_RUNS + 1);
    assert.equal(syncRuns.get(ids[5])!.info.lifecycleStage, "deleted");
    assert.equal(syncRuns.get(ids[0])!.data.metrics.long.step, 5999);
    assert.equal(syncRuns.get(ids[3])!.inputs?.datasetInputs.length, 2);
    assert.deepEqual(syncRuns.get(ids[1])!.inputs?.datasetInputs.map((d) => d.dataset.name), ["late"]);
    assert.equal(syncRuns.get(ids[2])!.inputs, undefined);
    assert.deepEqual(asyncRuns, syncRuns);

    // And a search through the store (async path) after a fresh start agrees with both.
    forgetIndex();
    await Deno.remove(join(expDir, SIDECAR));
    const page = await store.searchRuns({ experimentIds: [expId], viewType: "ALL", maxResults: 1000 });
    assert.deepEqual(byId(page.runs), syncRuns);
  } finally {
    forgetIndex();
    await Deno.remove(tmp, { recursive: true });
  }
});
