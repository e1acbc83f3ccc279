import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore } from "../tracking/mod.ts";
import { describeRun } from "./runs.ts";

Deno.test("runs describe lists params, metrics, tags and the dataset inputs with their context", async () => {
  const store = new FileStore(join(Deno.makeTempDirSync({ prefix: "st-describe-" }), "mlruns"));
  const run = await store.createRun({ runName: "r1" });
  const id = run.info.runId;
  await store.logParam(id, "model.hidden_size", 64);
  await store.logMetric(id, "val/loss", 1.5, { step: 30 });
  await store.logInputs(id, {
    datasets: [{
      dataset: { name: "builtin:stories", digest: "5d41402a", sourceType: "code", source: "{}" },
      tags: { "mlflow.data.context": "training" },
    }],
  });
  const text = describeRun(await store.getRun(id));
  assert.match(text, new RegExp(`^run ${id} \\(r1\\)`));
  assert.match(text, /^params:\n {2}model\.hidden_size {2}64$/m);
  assert.match(text, /^ {2}val\/loss {2}1\.5 \(step 30\)$/m);
  assert.match(text, /^datasets:\n {2}training {4}builtin:stories {2}digest 5d41402a {2}code \{\}$/m);
});
