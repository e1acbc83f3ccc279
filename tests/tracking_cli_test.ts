/** The tracking CLI: the guide's `runs search` example prints a table; misuse exits 2. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore } from "../src/tracking/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1" },
  }).output();
  return { code: o.code, out: new TextDecoder().decode(o.stdout), err: new TextDecoder().decode(o.stderr) };
}

Deno.test("storyteller runs search prints the guide's query as a table", async () => {
  const root = join(Deno.makeTempDirSync({ prefix: "st-cli-" }), "mlruns");
  const s = new FileStore(root);
  const exp = await s.createExperiment("storyteller");
  for (const [name, loss, lr] of [["a", 1.5, "0.01"], ["b", 2.5, "0.02"], ["c", 0.75, "0.03"]] as const) {
    const r = await s.createRun({ experimentId: exp, runName: name });
    await s.logParam(r.info.runId, "lr", lr);
    await s.logMetric(r.info.runId, "val/loss", loss);
  }
  const res = await cli(
    "runs",
    "search",
    "--experiment-name",
    "storyteller",
    "--filter",
    "metrics.val/loss < 2.0",
    "--order-by",
    "metrics.val/loss ASC",
    "--max-results",
    "5",
    "--tracking-uri",
    root,
  );
  assert.equal(res.code, 0, res.err);
  const lines = res.out.trimEnd().split("\n");
  assert.match(lines[0], /^run_id\s+run_name\s+status\s+metrics\.val\/loss$/);
  assert.match(lines[1], /^-+ {2}-+/);
  assert.match(lines[2], /^[0-9a-f]{32}\s+c\s+RUNNING\s+0\.75$/);
  assert.match(lines[3], /^[0-9a-f]{32}\s+a\s+RUNNING\s+1\.5$/);
  assert.equal(lines.length, 4);
  const csv = await cli(
    "runs",
    "search",
    "--experiment-name",
    "storyteller",
    "--columns",
    "params.lr",
    "--order-by",
    "params.lr",
    "--format",
    "csv",
    "--tracking-uri",
    root,
  );
  assert.deepEqual(csv.out.trim().split("\n").map((l) => l.split(",").slice(1)), [
    ["run_name", "status", "params.lr"],
    ["a", "RUNNING", "0.01"],
    ["b", "RUNNING", "0.02"],
    ["c", "RUNNING", "0.03"],
  ]);
  const bad = await cli("runs", "search", "--filter", "metrics.val/loss < 'x'", "--tracking-uri", root);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /Expected numeric value type for metric\. Found 'x' \(at column 20\)/);
  const list = await cli("experiments", "list", "--tracking-uri", root);
  assert.match(list.out, /storyteller\s+active/);
  // A model to register: MLflow's register_model needs an MLmodel at the path (or a logged model of that name).
  const regRun = (await s.searchRuns({ experimentIds: [exp], maxResults: 1 })).runs[0].info;
  const modelSrc = Deno.makeTempDirSync({ prefix: "st-cli-model-" });
  Deno.mkdirSync(join(modelSrc, "model"));
  Deno.writeTextFileSync(join(modelSrc, "model", "MLmodel"), "flavors: {}\n");
  await s.logArtifacts(regRun.runId, modelSrc);
  const reg = await cli(
    "models",
    "register",
    `runs:/${regRun.runId}/model`,
    "Story",
    "--tracking-uri",
    root,
  );
  assert.equal(reg.code, 0, reg.err);
  assert.match(reg.out, /as Story version 1/);
  // Stored as mlflow.register_model stores it: the resolved artifact URI; the run's files untouched.
  assert.equal((await s.getModelVersion("Story", "1")).source, `${regRun.artifactUri}/model`);
  assert.deepEqual((await s.listArtifacts(regRun.runId, "model")).map((f) => f.path), ["model/MLmodel"]);
  assert.equal((await cli("models", "set-alias", "Story", "champion", "1", "--tracking-uri", root)).code, 0);
  assert.match((await cli("models", "describe", "Story", "--tracking-uri", root)).out, /1\s+None\s+champion/);
});

Deno.test("storyteller runs search --filter on dataset inputs; a bad dataset key exits 2 at its column", async () => {
  const root = join(Deno.makeTempDirSync({ prefix: "st-cli-ds-" }), "mlruns");
  const s = new FileStore(root);
  const exp = await s.createExperiment("storyteller");
  const input = (name: string, context: string) => ({
    dataset: { name, digest: "90307e28", sourceType: "local", source: `{"uri": "file:///${name}"}` },
    tags: { "mlflow.data.context": context },
  });
  for (
    const [name, inputs] of [["a", [input("stories", "training")]], ["b", [input("val", "validation")]], [
      "c",
      [],
    ]] as const
  ) {
    const r = await s.createRun({ experimentId: exp, runName: name });
    if (inputs.length) await s.logInputs(r.info.runId, { datasets: [...inputs] });
  }
  const search = (filter: string) =>
    cli(
      "runs",
      "search",
      "--experiment-name",
      "storyteller",
      "--filter",
      filter,
      "--order-by",
      "run_name",
      "--format",
      "csv",
      "--tracking-uri",
      root,
    );
  const names = (out: string) => out.trim().split("\n").slice(1).map((l) => l.split(",")[1]);
  const training = await search("dataset.context = 'training'");
  assert.equal(training.code, 0, training.err);
  assert.deepEqual(names(training.out), ["a"]);
  assert.deepEqual(names((await search("dataset.digest = '90307e28'")).out), ["a", "b"]);
  assert.deepEqual(names((await search("dataset.name != 'stories'")).out), ["b"]);
  const bad = await search("params.lr = '1' AND dataset.size = 'x'");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /Invalid dataset key 'size' specified\. Valid keys are .* \(at column 21\)/);
});
