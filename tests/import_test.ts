/**
 * `storyteller import`: an HF export imported again is the same model, bit for bit (model.safetensors bytes,
 * config.json, tokenizer.json, generation_config.json), for dense, GQA/untied, MoE and mixed dense/MoE models; an
 * f16 export comes back as the f32 of its halves; the result is an MLflow model that loadModel serves; directories
 * storyteller cannot represent are refused with what was wrong.
 */
import assert from "node:assert/strict";
import type { ModelConfig } from "../src/config/mod.ts";
import { exportModel } from "../src/export/mod.ts";
import { readMLmodel } from "../src/model/mlmodel.ts";
import { loadModel } from "../src/serve/mod.ts";
import { writeRandomModel } from "../src/serve/testing.ts";
import { cli } from "./_cli.ts";

const MOE = { num_experts: 4, top_k: 2, layers: "all" as const, aux_loss_coef: 0.01, z_loss_coef: 0.001 };
const MODELS: [string, Partial<ModelConfig>][] = [
  ["a dense model", { num_kv_heads: 4 }],
  ["a GQA model with an untied head", { num_kv_heads: 1, tie_embeddings: false }],
  ["a MoE model", { moe: MOE }],
  ["a mixed dense/MoE model", { num_layers: 3, moe: { ...MOE, layers: "every_other" } }],
];
const FILES = ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"];

for (const [label, model] of MODELS) {
  Deno.test(`export --format hf then import gives back ${label} bit for bit`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "import-" });
    try {
      await writeRandomModel(`${dir}/model`, { model });
      await exportModel({ model: `${dir}/model`, format: "hf", out: `${dir}/hf` });
      const res = await cli("import", `${dir}/hf`, "-o", `${dir}/back`);
      assert.equal(res.code, 0, res.err);
      assert.match(res.out, /^Imported .*hf \((Llama|Mixtral)ForCausalLM, 0\.\d\dM parameters\) to .*back$/);
      for (const f of FILES) {
        assert.deepEqual(
          await Deno.readFile(`${dir}/back/${f}`),
          await Deno.readFile(`${dir}/model/${f}`),
          f,
        );
      }
      const { mlmodel } = await readMLmodel(`${dir}/back`);
      assert.deepEqual(Object.keys(mlmodel.flavors).sort(), ["python_function", "storyteller"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("an f16 export imports as f32 of its halves, and import refuses what it cannot represent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "import-" });
  try {
    await writeRandomModel(`${dir}/model`);
    await exportModel({ model: `${dir}/model`, format: "hf", out: `${dir}/hf16`, dtype: "f16" });
    assert.equal((await cli("import", `${dir}/hf16`, "-o", `${dir}/back16`)).code, 0);
    const [a, b] = [await loadModel(`${dir}/model`), await loadModel(`${dir}/back16`)];
    let worst = 0;
    for (let i = 0; i < a.params.length; i++) worst = Math.max(worst, Math.abs(a.params[i] - b.params[i]));
    assert.ok(worst > 0 && worst < 1e-2, `f16 rounding ${worst}`);

    const again = await cli("import", `${dir}/hf16`, "-o", `${dir}/back16`);
    assert.equal(again.code, 2);
    assert.match(again.err, /Cannot import to .*back16: it already exists\nhint: pass --force/);
    assert.equal((await cli("import", `${dir}/hf16`, "-o", `${dir}/back16`, "--force")).code, 0);

    const config = JSON.parse(await Deno.readTextFile(`${dir}/hf16/config.json`));
    await Deno.writeTextFile(
      `${dir}/hf16/config.json`,
      JSON.stringify({ ...config, rope_scaling: { factor: 2 } }),
    );
    const scaled = await cli("import", `${dir}/hf16`, "-o", `${dir}/x`);
    assert.equal(scaled.code, 2);
    assert.match(scaled.err, /Cannot import .*hf16: rope_scaling \{"factor":2\} is not supported\nhint: /);

    await Deno.writeTextFile(`${dir}/hf16/config.json`, JSON.stringify({ ...config, num_hidden_layers: 1 }));
    const extra = await cli("import", `${dir}/hf16`, "-o", `${dir}/x`);
    assert.match(extra.err, /has no place for: model\.layers\.1\.input_layernorm\.weight, .* and \d+ more/);

    await Deno.writeTextFile(
      `${dir}/hf16/config.json`,
      JSON.stringify({ ...config, hidden_size: 64, head_dim: 16 }),
    );
    const shape = await cli("import", `${dir}/hf16`, "-o", `${dir}/x`);
    assert.match(
      shape.err,
      /tensor model\.embed_tokens\.weight has shape \[300,32\], config\.json implies \[300,64\]/,
    );

    const missing = await cli("import", `${dir}/nowhere`, "-o", `${dir}/x`);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /Cannot import .*nowhere: no such directory/);
    await assert.rejects(Deno.stat(`${dir}/x`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
