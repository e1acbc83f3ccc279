/** Layout golden tests: the bytes MLflow writes (spec §1–§2), reproduced by the file store and the YAML writer. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore } from "../src/tracking/mod.ts";
import { toPyYaml } from "../src/pyyaml.ts";

const golden = JSON.parse(
  Deno.readTextFileSync(new URL("./golden/tracking/pyyaml_dump.json", import.meta.url)),
);

Deno.test("toPyYaml matches PyYAML SafeDumper byte for byte on 287 recorded values", () => {
  for (const c of golden.cases) assert.equal(toPyYaml(c.value), c.yaml, JSON.stringify(c.value));
});

/** A 13-digit millisecond timestamp as a YAML value; temp-dir names may hold digit runs too, so anchor on ": ". */
const TIMESTAMP = /: \d{13}$/gm;

function store(): FileStore {
  return new FileStore(join(Deno.makeTempDirSync({ prefix: "st-layout-" }), "mlruns"));
}

Deno.test("run meta.yaml, metrics, params and tags are MLflow's exact bytes", async () => {
  const s = store();
  const expId = await s.createExperiment("storyteller");
  const run = await s.createRun({
    experimentId: expId,
    runName: "first-run",
    startTime: 1795758701315,
    userId: "alice",
  });
  const id = run.info.runId;
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.match(expId, /^[1-9][0-9]{17}$/);
  await s.logParam(id, "opt/name", "adamw");
  await s.logParam(id, "batch", 12);
  await s.logParam(id, "empty", null);
  await s.setTag(id, "stage/kind", "unicode ✓");
  await s.logBatch(id, {
    metrics: [
      { key: "train/loss", value: 1, timestamp: 1795758701400, step: 0 },
      { key: "train/loss", value: 1 / 3, timestamp: 1795758701401, step: -1 },
      { key: "train/loss", value: NaN, timestamp: 1795758701402, step: 2 },
      { key: "train/loss", value: Infinity, timestamp: 1795758701403, step: 3 },
      { key: "train/loss", value: -Infinity, timestamp: 1795758701404, step: 4 },
      { key: "tiny", value: 1e-5, timestamp: 1795758701405, step: 0 },
      { key: "huge", value: 1.5e16, timestamp: 1795758701406, step: 0 },
    ],
  });
  await s.setTerminated(id, "FINISHED", 1795758701404);
  const dir = join(s.root, expId, id);
  for (const sub of ["metrics", "params", "artifacts", "tags"]) {
    assert.ok(Deno.statSync(join(dir, sub)).isDirectory, sub);
  }
  assert.equal(
    Deno.readTextFileSync(join(dir, "meta.yaml")),
    `artifact_uri: ${s.trackingUri}/${expId}/${id}/artifacts
end_time: 1795758701404
entry_point_name: ''
experiment_id: '${expId}'
lifecycle_stage: active
run_id: ${id}
run_name: first-run
source_name: ''
source_type: 4
source_version: ''
start_time: 1795758701315
status: 3
tags: []
user_id: alice
`,
  );
  assert.equal(
    Deno.readTextFileSync(join(dir, "metrics", "train", "loss")),
    "1795758701400 1.0 0\n1795758701401 0.3333333333333333 -1\n1795758701402 nan 2\n1795758701403 inf 3\n" +
      "1795758701404 -inf 4\n",
  );
  assert.equal(Deno.readTextFileSync(join(dir, "metrics", "tiny")), "1795758701405 1e-05 0\n");
  assert.equal(Deno.readTextFileSync(join(dir, "metrics", "huge")), "1795758701406 1.5e+16 0\n");
  assert.equal(Deno.readTextFileSync(join(dir, "params", "opt", "name")), "adamw");
  assert.equal(Deno.readTextFileSync(join(dir, "params", "batch")), "12");
  assert.equal(Deno.readTextFileSync(join(dir, "params", "empty")), "");
  assert.equal(Deno.readTextFileSync(join(dir, "tags", "stage", "kind")), "unicode ✓");
  assert.equal(Deno.readTextFileSync(join(dir, "tags", "mlflow.runName")), "first-run");
  await s.deleteRun(id);
  const deleted = Deno.readTextFileSync(join(dir, "meta.yaml"));
  assert.match(deleted, /^deleted_time: \d+\n/m);
  assert.match(deleted, /^lifecycle_stage: deleted$/m);
  await s.restoreRun(id);
  assert.doesNotMatch(Deno.readTextFileSync(join(dir, "meta.yaml")), /deleted_time/);
});

Deno.test("experiment meta.yaml: key set on create, tags mapping after rename", async () => {
  const s = store();
  const expId = await s.createExperiment("123");
  const metaPath = join(s.root, expId, "meta.yaml");
  const meta = Deno.readTextFileSync(metaPath);
  const [, created] = /creation_time: (\d+)/.exec(meta)!;
  assert.equal(
    meta,
    `artifact_location: ${s.trackingUri}/${expId}\ncreation_time: ${created}\nexperiment_id: '${expId}'\n` +
      `last_update_time: ${created}\nlifecycle_stage: active\nname: '123'\n`,
  );
  await s.setExperimentTag(expId, "mlflow.note.content", "notes");
  assert.equal(Deno.readTextFileSync(join(s.root, expId, "tags", "mlflow.note.content")), "notes");
  await s.renameExperiment(expId, "renamed");
  assert.match(Deno.readTextFileSync(metaPath), /name: renamed\ntags:\n {2}mlflow.note.content: notes\n$/);
  assert.equal(
    Deno.readTextFileSync(join(s.root, "0", "meta.yaml")).replace(TIMESTAMP, ": T"),
    `artifact_location: ${s.trackingUri}/0\ncreation_time: T\nexperiment_id: '0'\nlast_update_time: T\n` +
      "lifecycle_stage: active\nname: Default\n",
  );
});

Deno.test("registry layout: model meta, version meta, aliases and tags", async () => {
  const s = store();
  const run = await s.createRun({});
  await s.createRegisteredModel("AddOne", { description: "adds one" });
  await s.createModelVersion("AddOne", `runs:/${run.info.runId}/model`);
  await s.setRegisteredModelAlias("AddOne", "champion", "1");
  await s.setModelVersionTag("AddOne", "1", "k", "v");
  const mdir = join(s.root, "models", "AddOne");
  const meta = Deno.readTextFileSync(join(mdir, "meta.yaml")).replace(TIMESTAMP, ": T");
  assert.equal(
    meta,
    "aliases:\n  champion: '1'\ncreation_timestamp: T\ndeployment_job_id: null\ndeployment_job_state: null\n" +
      "description: adds one\nlast_updated_timestamp: T\nname: AddOne\n",
  );
  const vmeta = Deno.readTextFileSync(join(mdir, "version-1", "meta.yaml")).replace(TIMESTAMP, ": T");
  assert.equal(
    vmeta,
    "creation_timestamp: T\ncurrent_stage: None\ndeployment_job_state: null\ndescription: null\n" +
      `last_updated_timestamp: T\nmodel_id: null\nname: AddOne\nrun_id: ${run.info.runId}\nrun_link: null\n` +
      `source: runs:/${run.info.runId}/model\nstatus: READY\nstatus_message: null\n` +
      `storage_location: runs:/${run.info.runId}/model\nuser_id: null\nversion: 1\n`,
  );
  assert.equal(Deno.readTextFileSync(join(mdir, "aliases", "champion")), "1");
  assert.equal(Deno.readTextFileSync(join(mdir, "version-1", "tags", "k")), "v");
});

Deno.test("reader tolerances: legacy int ids, missing status, 2-field metric lines, foreign dirs", async () => {
  const s = store();
  const expDir = join(s.root, "7");
  Deno.mkdirSync(join(expDir, "r1", "metrics"), { recursive: true });
  Deno.writeTextFileSync(
    join(expDir, "meta.yaml"),
    "artifact_location: file:///x/7\nexperiment_id: 7\nlifecycle_stage: active\nname: legacy\n",
  );
  Deno.writeTextFileSync(
    join(expDir, "r1", "meta.yaml"),
    "artifact_uri: file:///x\nexperiment_id: 7\nrun_id: r1\nstart_time: 5\n",
  );
  Deno.writeTextFileSync(join(expDir, "r1", "metrics", "m"), "10 2.5\n11 3.5 1\n12 4.5 2 ds abc\n13 9");
  Deno.mkdirSync(join(expDir, "not-a-run"));
  const e = await s.getExperiment("7");
  assert.equal(e.name, "legacy");
  const run = await s.getRun("r1");
  assert.equal(run.info.status, "RUNNING");
  assert.equal(run.info.lifecycleStage, "active");
  const hist = await s.getMetricHistory("r1", "m");
  assert.deepEqual(hist.map((m) => [m.value, m.step]), [[2.5, 0], [3.5, 1], [4.5, 2]]); // torn last line skipped
  assert.equal(hist[2].datasetName, "ds");
  const page = await s.searchRuns({ experimentIds: ["7"] });
  assert.deepEqual(page.runs.map((r) => r.info.runId), ["r1"]);
});
