import assert from "node:assert/strict";
import { join } from "node:path";
import { logModelHistoryEntry, pyUtcTime, readMLmodel, writeMLmodel } from "./mlmodel.ts";
import { VERSION } from "../version.ts";
import { PYFUNC_CODE } from "../export/pyfunc/pyfunc.ts";

async function fakeModelDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "st-mlmodel-" });
  await Deno.writeFile(join(dir, "model.safetensors"), new Uint8Array(100));
  await Deno.writeTextFile(join(dir, "config.json"), "{}\n");
  await Deno.writeTextFile(join(dir, "tokenizer.json"), "{}");
  await Deno.writeTextFile(join(dir, "generation_config.json"), `{"max_new_tokens": 99}\n`);
  return dir;
}

Deno.test("pyUtcTime matches Python's str(datetime.utcnow())", () => {
  assert.equal(pyUtcTime(Date.UTC(2026, 10, 27, 5, 51, 41, 521)), "2026-11-27 05:51:41.521000");
});

Deno.test("writeMLmodel writes MLflow's YAML with python_function and storyteller flavors, byte for byte", async () => {
  const dir = await fakeModelDir();
  try {
    const m = await writeMLmodel(dir, {
      runId: "0123456789abcdef0123456789abcdef",
      now: Date.UTC(2026, 10, 27, 5, 51, 41, 521),
      modelUuid: "fedcba9876543210fedcba9876543210",
    });
    const conda = await Deno.readTextFile(join(dir, "conda.yaml"));
    const pythonEnv = await Deno.readTextFile(join(dir, "python_env.yaml"));
    assert.equal(await Deno.readTextFile(join(dir, "code", "storyteller_pyfunc.py")), PYFUNC_CODE);
    assert.equal(
      conda,
      "channels:\n- conda-forge\ndependencies:\n- python=3.11\n- pip\n- pip:\n  - mlflow>=2.10\n  - numpy>=1.21\n" +
        "name: mlflow-env\n",
    );
    assert.equal(
      pythonEnv,
      "build_dependencies:\n- pip\ndependencies:\n- mlflow>=2.10\n- numpy>=1.21\npython: '3.11'\n",
    );
    const size = 100 + 3 + 2 + 23 + new TextEncoder().encode(PYFUNC_CODE).length + conda.length +
      pythonEnv.length;
    assert.equal(m.model_size_bytes, size);
    const params = [
      `{"name":"max_tokens","type":"long","default":99,"shape":null}`,
      `{"name":"temperature","type":"double","default":0.8,"shape":null}`,
      `{"name":"top_k","type":"long","default":50,"shape":null}`,
      `{"name":"top_p","type":"double","default":0.95,"shape":null}`,
      `{"name":"seed","type":"long","default":-1,"shape":null}`,
    ];
    assert.equal(
      await Deno.readTextFile(join(dir, "MLmodel")),
      [
        "artifact_path: model",
        "flavors:",
        "  python_function:",
        "    code: code",
        "    data: .",
        "    env:",
        "      conda: conda.yaml",
        "      virtualenv: python_env.yaml",
        "    loader_module: storyteller_pyfunc",
        "    python_version: '3.11'",
        "  storyteller:",
        "    architecture: storyteller-llama",
        "    config: config.json",
        "    format: safetensors",
        "    generation_config: generation_config.json",
        `    storyteller_version: ${VERSION}`,
        "    tokenizer: tokenizer.json",
        "    weights: model.safetensors",
        `model_size_bytes: ${size}`,
        "model_uuid: fedcba9876543210fedcba9876543210",
        "run_id: 0123456789abcdef0123456789abcdef",
        "signature:",
        `  params: '[${params.join(",")}]'`,
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
