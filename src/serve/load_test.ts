import assert from "node:assert/strict";
import { loadModel, ModelLoadError } from "./load.ts";
import { writeRandomModel } from "./testing.ts";

Deno.test("generation_config.json's repetition_penalty is the default (1 when absent); out of range is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "serve_load_" });
  try {
    await writeRandomModel(`${dir}/model`, { seed: 2 });
    const path = `${dir}/model/generation_config.json`;
    const gen = JSON.parse(await Deno.readTextFile(path));
    delete gen.repetition_penalty;
    await Deno.writeTextFile(path, JSON.stringify(gen));
    assert.equal((await loadModel(`${dir}/model`)).generation.repetition_penalty, 1);
    await Deno.writeTextFile(path, JSON.stringify({ ...gen, repetition_penalty: 1.3 }));
    assert.equal((await loadModel(`${dir}/model`)).generation.repetition_penalty, 1.3);
    await Deno.writeTextFile(path, JSON.stringify({ ...gen, repetition_penalty: 0 }));
    await assert.rejects(
      loadModel(`${dir}/model`),
      (e: unknown) =>
        e instanceof ModelLoadError && /repetition_penalty 0, outside \(0, 10\]/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
