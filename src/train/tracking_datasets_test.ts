import assert from "node:assert/strict";
import type { DataStats } from "../data/mod.ts";
import { CONTEXT_TAG, datasetInputs, datasetSource, pyJson } from "./tracking_datasets.ts";

type Split = DataStats["datasets"]["training"];
const builtin = { kind: "builtin", stories: 4000, seed: 1, generator: 1 } as const;
const file = (path: string) =>
  ({ kind: "file", path, format: "text", size: 10, mtimeMs: 1_700_000_000_000 }) as const;
const split = (over: Partial<Split> = {}): Split => ({
  name: "builtin:stories",
  digest: "0a1b2c3d",
  sources: [builtin],
  holdOut: 0.05,
  docs: 3800,
  tokens: 123456,
  ...over,
});

Deno.test("datasetInputs: training, then validation when there is any, with context, schema and profile", () => {
  const inputs = datasetInputs({
    datasets: { training: split(), validation: split({ digest: "ffff0000" }) },
  });
  assert.deepEqual(inputs.map((i) => i.tags), [{ [CONTEXT_TAG]: "training" }, {
    [CONTEXT_TAG]: "validation",
  }]);
  assert.deepEqual(inputs[0].dataset, {
    name: "builtin:stories",
    digest: "0a1b2c3d",
    sourceType: "code",
    source: '{"tags": {"mlflow.source.name": "storyteller builtin:stories", "mlflow.source.type": "LOCAL", ' +
      '"storyteller.stories": "4000", "storyteller.seed": "1", "storyteller.generator_version": "1"}}',
    schema: '{"mlflow_colspec": [{"type": "string", "name": "text", "required": true}]}',
    profile: '{"num_documents": 3800, "num_tokens": 123456}',
  });
  assert.equal(inputs[1].dataset.digest, "ffff0000");
  assert.equal(datasetInputs({ datasets: { training: split(), validation: null } }).length, 1);

  const long = datasetInputs({ datasets: { training: split({ name: "x".repeat(600) }), validation: null } });
  assert.equal(long[0].dataset.name.length, 500, "MLflow's name limit");
  assert.ok(long[0].dataset.name.endsWith("…"));
});

Deno.test("datasetSource: one file as MLflow's local source; several as a list of URIs, cut to fit", () => {
  assert.deepEqual(datasetSource([file("/data/my stories.txt")]), {
    sourceType: "local",
    source: '{"uri": "file:///data/my%20stories.txt"}',
  });
  assert.deepEqual(datasetSource([file("/data/a.txt"), builtin]), {
    sourceType: "storyteller",
    source: '{"uris": ["file:///data/a.txt", "builtin:stories?stories=4000&seed=1&version=1"]}',
  });

  const many = Array.from(
    { length: 5000 },
    (_, i) => file(`/corpus/shard-${String(i).padStart(5, "0")}.txt`),
  );
  const { sourceType, source } = datasetSource(many);
  assert.equal(sourceType, "storyteller");
  assert.ok(source.length <= 65535, `${source.length} characters`);
  const j = JSON.parse(source);
  assert.ok(j.uris.length > 1000 && j.uris.length < 5000, `${j.uris.length} listed`);
  assert.equal(j.uris.length + j.more, 5000);
  assert.equal(j.uris[0], "file:///corpus/shard-00000.txt");
});

Deno.test("pyJson writes what Python's json.dumps writes", () => {
  assert.equal(
    pyJson({ a: [1, 2.5, null, true], "k é": { uri: "file:///x" }, s: '😀\u007f"' }),
    '{"a": [1, 2.5, null, true], "k \\u00e9": {"uri": "file:///x"}, "s": "\\ud83d\\ude00\\u007f\\""}',
  );
  assert.deepEqual(JSON.parse(pyJson({ x: ["é", { y: 1 }] })), { x: ["é", { y: 1 }] });
});
