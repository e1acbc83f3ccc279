import assert from "node:assert/strict";
import { join } from "node:path";
import { logModelHistoryEntry, pyUtcTime, readMLmodel, writeMLmodel } from "./mlmodel.ts";
import { VERSION } from "../version.ts";

async function fakeModelDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "st-mlmodel-" });
  await Deno.writeFile(join(dir, "model.safetensors"), new Uint8Array(100));
  await Deno.writeTextFile(join(dir, "config.json"), "{}\n");
  await Deno.writeTextFile(join(dir, "tokenizer.json"), "{}");
  await Deno.writeTextFile(join(dir, "generation_config.json"), "{}\n");
  return dir;
}

Deno.test("pyUtcTime matches Python's str(datetime.utcnow())", () => {
  assert.equal(pyUtcTime(Date.UTC(2026, 10, 27, 5, 51, 41, 521)), "2026-11-27 05:51:41.521000");
});

Deno.test("writeMLmodel writes MLflow's YAML with a storyteller flavor, byte for byte", async () => {
  const dir = await fakeModelDir();
  try {
    const m = await writeMLmodel(dir, {
      runId: "0123456789abcdef0123456789abcdef",
      now: Date.UTC(2026, 10, 27, 5, 51, 41, 521),
      modelUuid: "fedcba9876543210fedcba9876543210",
    });
    assert.equal(m.model_size_bytes, 100 + 3 + 2 + 3);
    assert.equal(
      await Deno.readTextFile(join(dir, "MLmodel")),
      [
        "artifact_path: model",
        "flavors:",
        "  storyteller:",
        "    architecture: storyteller-llama",
        "    config: config.json",
        "    format: safetensors",
        "    generation_config: generation_config.json",
        `    storyteller_version: ${VERSION}`,
        "    tokenizer: tokenizer.json",
        "    weights: model.safetensors",
        "model_size_bytes: 108",
        "model_uuid: fedcba9876543210fedcba9876543210",
        "run_id: 0123456789abcdef0123456789abcdef",
        "utc_time_created: '2026-11-27 05:51:41.521000'",
        "",
      ].join("\n"),
    );
    const { mlmodel, flavor, files } = await readMLmodel(dir);
    assert.deepEqual(mlmodel, m);
    assert.equal(flavor!.weights, "model.safetensors");
    assert.equal(files!.tokenizer, join(dir, "tokenizer.json"));
    const entry = logModelHistoryEntry(m, "0123456789abcdef0123456789abcdef");
    assert.deepEqual(Object.keys(entry), [
      "run_id",
      "artifact_path",
      "utc_time_created",
      "model_uuid",
      "flavors",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeMLmodel refuses a directory without weights; readMLmodel explains what is wrong", async () => {
  const dir = await fakeModelDir();
  try {
    await assert.rejects(readMLmodel(dir), /Cannot read the model in .*: there is no MLmodel file/);
    await Deno.remove(join(dir, "model.safetensors"));
    await assert.rejects(writeMLmodel(dir), /Cannot write MLmodel in .*: model\.safetensors is missing/);
    await Deno.writeTextFile(
      join(dir, "MLmodel"),
      "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n",
    );
    await assert.rejects(readMLmodel(dir), /has no 'storyteller' flavor \(it has python_function\)/);
    assert.equal((await readMLmodel(dir, { requireFlavor: false })).mlmodel.artifact_path, "model");
    await Deno.writeTextFile(join(dir, "model.safetensors"), "");
    await writeMLmodel(dir);
    await Deno.remove(join(dir, "tokenizer.json"));
    await assert.rejects(readMLmodel(dir), /tokenizer\.json \(the flavor's tokenizer\) is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
