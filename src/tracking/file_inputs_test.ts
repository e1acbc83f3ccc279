import assert from "node:assert/strict";
import { join } from "node:path";
import { toPyYaml } from "../pyyaml.ts";
import { type DatasetMetas, readDatasetInputs, readRunInputs } from "./file_inputs.ts";
import { parseYamlObject } from "./meta.ts";

const DS_ID = "40c8ea40c01af70748b852d82b3aca9c";
const HEAD = `destination_id: ${DS_ID}\ndestination_type: RUN\nsource_id: ${DS_ID}\nsource_type: DATASET\n`;

/** Input meta.yaml texts in the layouts a reader may meet: ours, PyYAML's, and hand-written ones. */
const LAYOUTS: Record<string, string> = {
  "toPyYaml, quoted values": toPyYaml({
    destination_id: DS_ID,
    destination_type: "RUN",
    source_id: DS_ID,
    source_type: "DATASET",
    tags: { "mlflow.data.context": "training", count: "123", x: "yes", e: "", c: "a: b", q: "it's" },
  }),
  "empty tags": HEAD + "tags: {}\n",
  "tags first": `tags:\n  mlflow.data.context: eval\n${HEAD}`,
  "a wrapped plain scalar": HEAD +
    "tags:\n  mlflow.data.context: a long context that PyYAML\n    wrapped onto two lines\n",
  "YAML 1.1 scalars unquoted": HEAD +
    "tags:\n  flag: yes\n  count: 123\n  none: null\n  mlflow.data.context: training\n",
  "no tags": HEAD,
};

Deno.test("input metas read the same in every layout as a whole YAML parse does", () => {
  const dir = Deno.makeTempDirSync({ prefix: "st-inputs-" });
  try {
    Deno.mkdirSync(join(dir, "datasets", DS_ID), { recursive: true });
    Deno.writeTextFileSync(
      join(dir, "datasets", DS_ID, "meta.yaml"),
      "digest: 90307e28\nname: stories\nprofile: null\nschema: null\nsource: '{}'\nsource_type: code\n",
    );
    const metas: DatasetMetas = new Map();
    for (const [layout, text] of Object.entries(LAYOUTS)) {
      const runDir = join(dir, layout.replaceAll(/\W/g, "_"));
      Deno.mkdirSync(join(runDir, "inputs", "0001"), { recursive: true });
      Deno.writeTextFileSync(join(runDir, "inputs", "0001", "meta.yaml"), text);
      const whole = parseYamlObject(text, layout).tags as Record<string, unknown> | null;
      const expected = Object.fromEntries(Object.entries(whole ?? {}).map(([k, v]) => [k, String(v)]));
      const got = readDatasetInputs(dir, runDir, metas);
      assert.equal(got.length, 1, layout);
      assert.deepEqual(got[0].tags, expected, layout);
      assert.deepEqual(got[0].dataset, {
        name: "stories",
        digest: "90307e28",
        sourceType: "code",
        source: "{}",
      });
      assert.deepEqual(readRunInputs(dir, runDir).datasetInputs, got, layout);
    }
    assert.deepEqual(
      readDatasetInputs(dir, join(dir, "toPyYaml__quoted_values"), metas)[0].tags,
      { "mlflow.data.context": "training", count: "123", x: "yes", e: "", c: "a: b", q: "it's" },
    );
    assert.equal(metas.size, 1, "the dataset meta is read once");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("an unreadable input entry is skipped, the run's other inputs still read", () => {
  const dir = Deno.makeTempDirSync({ prefix: "st-inputs-" });
  try {
    Deno.mkdirSync(join(dir, "datasets", DS_ID), { recursive: true });
    Deno.writeTextFileSync(
      join(dir, "datasets", DS_ID, "meta.yaml"),
      "digest: d\nname: n\nsource: s\nsource_type: code\n",
    );
    const runDir = join(dir, "run");
    Deno.mkdirSync(join(runDir, "inputs", "0001", "meta.yaml"), { recursive: true }); // a directory in its place
    Deno.mkdirSync(join(runDir, "inputs", "0002"), { recursive: true });
    Deno.writeTextFileSync(join(runDir, "inputs", "0002", "meta.yaml"), HEAD + "tags: {}\n");
    const one = [{ dataset: { name: "n", digest: "d", sourceType: "code", source: "s" }, tags: {} }];
    assert.deepEqual(readDatasetInputs(dir, runDir, new Map()), one);
    assert.deepEqual(readRunInputs(dir, runDir).datasetInputs, one);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
