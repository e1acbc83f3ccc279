/** Several processes logging into one experiment, and a process killed mid-write: nothing lost or corrupt. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore } from "../src/tracking/mod.ts";

const WORKER = new URL("../src/tracking/testdata/log_worker.ts", import.meta.url).pathname;

function root(): string {
  return join(Deno.makeTempDirSync({ prefix: "st-conc-" }), "mlruns");
}

Deno.test("4 concurrent processes: one experiment, every point and run kept", async () => {
  const r = root();
  const store = new FileStore(r);
  const shared = await store.createRun({ runName: "shared" });
  const N = 500;
  const procs = Array.from(
    { length: 4 },
    () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", WORKER, r, "concurrent", shared.info.runId, String(N)],
        stderr: "piped",
      }).output(),
  );
  const outs = await Promise.all(procs);
  for (const o of outs) assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  const exps = (await store.searchExperiments({ filterString: "name = 'concurrent'" })).experiments;
  assert.equal(exps.length, 1, "the create race produced exactly one experiment");
  const { runs } = await store.searchRuns({ experimentNames: ["concurrent"], orderBy: ["params.pid"] });
  assert.equal(runs.length, 4);
  for (const run of runs) {
    assert.equal(run.info.status, "FINISHED");
    const hist = await store.getMetricHistory(run.info.runId, "train/loss");
    assert.deepEqual(hist.map((m) => m.step), Array.from({ length: N }, (_, i) => i));
  }
  const sharedHist = await store.getMetricHistory(shared.info.runId, "shared");
  assert.equal(sharedHist.length, 4 * N);
  const pids = new Set(runs.map((x) => Number(x.data.params.pid)));
  for (const pid of pids) {
    assert.deepEqual(
      sharedHist.filter((m) => m.value === pid).map((m) => m.step),
      Array.from({ length: N }, (_, i) => i),
    );
  }
  assert.ok(pids.has(Number((await store.getRun(shared.info.runId)).data.tags.last_writer)));
});

Deno.test("a process killed while logging leaves a readable store", async () => {
  const r = root();
  const store = new FileStore(r);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER, r, "crash", "-", "0"],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  const runId = new TextDecoder().decode(value).trim();
  await new Promise((res) => setTimeout(res, 700));
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  const run = await store.getRun(runId);
  assert.equal(run.info.status, "RUNNING");
  assert.match(run.info.runName, /^crash-\d+$|^worker-/);
  // meta.yaml and the mlflow.runName tag are two files (as in MLflow): a kill between the writes leaves the tag one
  // rename behind, never torn.
  assert.match(run.data.tags["mlflow.runName"], /^crash-\d+$|^worker-/);
  const hist = await store.getMetricHistory(runId, "loss");
  assert.ok(hist.length > 0, "points written before the kill are there");
  hist.forEach((m, i) => assert.equal(m.step, i, "no torn or duplicated line"));
  const page = await store.searchRuns({ experimentNames: ["concurrent"], filterString: "metrics.loss >= 0" });
  assert.deepEqual(page.runs.map((x) => x.info.runId), [runId]);
  // A temp file left by a crash between write and rename is never mistaken for data.
  Deno.writeTextFileSync(join(r, run.info.experimentId, runId, ".st-tmp-1-1-dead"), "partial");
  assert.deepEqual(Object.keys((await store.getRun(runId)).data.tags).sort(), ["mlflow.runName", "progress"]);
});
