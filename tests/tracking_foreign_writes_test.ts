/**
 * Issue 16 item 2: writes by another program (MLflow's FileStore appending a metric line, adding a param file,
 * rewriting a tag file) that leave meta.yaml alone reach search — values, filters, order — through the run index's
 * data stamps: live runs on every sweep, the others through the rolling pass. Where a test sets file times into
 * the past, the stamp's hash, not a file time later than the read, is what notices.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore, type Run } from "../src/tracking/mod.ts";
import { forgetIndex } from "../src/tracking/run_index.ts";

const HOUR_AGO = new Date(Date.now() - 3600_000);

/** Sets every file and directory of a run (meta.yaml included) to `t`, as an old run's files are. */
function age(runDir: string, t = HOUR_AGO): void {
  const walk = (p: string) => {
    for (const e of Deno.readDirSync(p)) {
      const q = join(p, e.name);
      if (e.isDirectory) walk(q);
      Deno.utimeSync(q, t, t);
    }
  };
  walk(runDir);
  Deno.utimeSync(runDir, t, t);
}

/** What MLflow's FileStore does to log to an existing run: append / create files, meta.yaml untouched. */
function mlflowWrites(runDir: string, backdate = true): void {
  Deno.writeTextFileSync(join(runDir, "metrics", "loss"), "1795758709999 0.125 7\n", { append: true });
  Deno.writeTextFileSync(join(runDir, "metrics", "val", "acc"), "1795758709999 0.9 7\n", { append: true });
  Deno.writeTextFileSync(join(runDir, "params", "late"), "yes");
  Deno.writeTextFileSync(join(runDir, "tags", "team"), "blue");
  // Times set back before the read (a writer whose clock is behind, a copy keeping mtimes): only the stamp can tell.
  if (!backdate) return;
  const t = new Date(Date.now() - 1800_000);
  for (
    const f of [
      "metrics/loss",
      "metrics/val/acc",
      "metrics/val",
      "metrics",
      "params/late",
      "params",
      "tags/team",
    ]
  ) {
    Deno.utimeSync(join(runDir, f), t, t);
  }
}

async function setup(status: "FINISHED" | "RUNNING") {
  const dir = await Deno.makeTempDir({ prefix: "st-foreign-" });
  const writer = new FileStore(join(dir, "mlruns"));
  const expId = await writer.createExperiment("foreign");
  const { info } = await writer.createRun({ experimentId: expId, runName: "r" });
  await writer.logBatch(info.runId, {
    metrics: [
      { key: "loss", value: 2, timestamp: 1795758701000, step: 0 },
      { key: "val/acc", value: 0.1, timestamp: 1795758701000, step: 0 },
    ],
    params: [{ key: "lr", value: "0.1" }],
    tags: [{ key: "team", value: "red" }],
  });
  if (status === "FINISHED") {
    await writer.updateRun(info.runId, { status: "FINISHED", endTime: 1795758702000 });
  }
  const runDir = join(writer.root, expId, info.runId);
  age(runDir);
  forgetIndex();
  return { dir, expId, runId: info.runId, runDir, done: () => Deno.remove(dir, { recursive: true }) };
}

async function search(store: FileStore, expId: string, filter?: string): Promise<Run[]> {
  return (await store.searchRuns({ experimentIds: [expId], filterString: filter })).runs;
}

Deno.test("foreign metric, param and tag writes to a finished run reach search within the rolling pass", async () => {
  const t = await setup("FINISHED");
  try {
    // A long-lived reader (the server's store): its index is built before MLflow writes.
    const store = new FileStore(join(t.dir, "mlruns"), { staleMs: 0, foreignMs: 0 });
    const [before] = await search(store, t.expId);
    assert.equal(before.data.metrics.loss.value, 2);
    await search(store, t.expId); // the first pass after the build stamps the run
    mlflowWrites(t.runDir);
    const [after] = await search(store, t.expId);
    assert.equal(after.data.metrics.loss.value, 0.125);
    assert.equal(after.data.metrics.loss.step, 7);
    assert.equal(after.data.metrics["val/acc"].value, 0.9);
    assert.equal(after.data.params.late, "yes");
    assert.equal(after.data.tags.team, "blue");
    // Filters and order see them too.
    assert.equal((await search(store, t.expId, "metrics.loss < 0.5 AND params.late = 'yes'")).length, 1);
    assert.equal((await search(store, t.expId, "tags.team = 'red'")).length, 0);
  } finally {
    await t.done();
  }
});

Deno.test("the rolling pass bounds finished runs; a RUNNING run is stamped on every sweep", async () => {
  for (const status of ["FINISHED", "RUNNING"] as const) {
    const t = await setup(status);
    try {
      // foreignMs = Infinity: the rolling pass never comes round again after the first sweep, so only a live run
      // (RUNNING) is looked at — the finished one keeps its old value until its turn (the documented bound).
      const store = new FileStore(join(t.dir, "mlruns"), { staleMs: 0, foreignMs: Infinity });
      await search(store, t.expId);
      await search(store, t.expId); // stamps: the first pass (all runs), then live runs on every sweep
      mlflowWrites(t.runDir);
      const [run] = await search(store, t.expId);
      assert.equal(run.data.metrics.loss.value, status === "RUNNING" ? 0.125 : 2, status);
    } finally {
      await t.done();
    }
  }
});

Deno.test("a fresh process starting from the sidecar sees writes made after the sidecar was saved", async () => {
  const t = await setup("FINISHED");
  try {
    const store = new FileStore(join(t.dir, "mlruns"), { staleMs: 0, foreignMs: Infinity });
    // 50+ runs re-read save the sidecar; one run does not, so save it through a cold build of many runs.
    for (let i = 0; i < 60; i++) await store.createRun({ experimentId: t.expId, runName: `x${i}` });
    forgetIndex();
    await search(store, t.expId);
    forgetIndex(); // "a new process": the index comes back from the sidecar
    mlflowWrites(t.runDir, false); // written now, after the sidecar's reads
    const runs = await search(store, t.expId);
    assert.equal(runs.find((r) => r.info.runId === t.runId)!.data.metrics.loss.value, 0.125);
  } finally {
    await t.done();
  }
});
