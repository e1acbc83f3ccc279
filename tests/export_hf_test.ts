/**
 * Hugging Face export: the directory's files and config fields, a model card naming the run when exported from
 * runs:/, and the weights checked by a PyTorch forward written from transformers' Llama/Mixtral definitions
 * (src/export/testdata/hf_torch_forward.py, no shared code): its logits match the reference within 1e-4. The
 * PyTorch check needs python3 with torch (Debian python3-torch); it is skipped without it.
 */
import assert from "node:assert/strict";
import type { ModelConfig } from "../src/config/mod.ts";
import { parseTokenizerJson } from "../src/data/mod.ts";
import { exportModel } from "../src/export/mod.ts";
import { referenceGreedy, referenceLogits } from "../src/export/testing.ts";
import { loadModel } from "../src/serve/mod.ts";
import { writeRandomModel } from "../src/serve/testing.ts";
import { writeMLmodel } from "../src/model/mlmodel.ts";
import { openTracking } from "../src/tracking/mod.ts";
import { cli } from "./_cli.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const FORWARD = `${ROOT}src/export/testdata/hf_torch_forward.py`;
const PROMPT = "Once upon a time there was a little fox.";
/** Debian's python3 (where python3-torch installs), unless STORYTELLER_PYTHON names another. */
const PYTHON = Deno.env.get("STORYTELLER_PYTHON") ?? "/usr/bin/python3";
const hasTorch = (() => {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import torch"], stdout: "null", stderr: "null" })
      .outputSync()
      .success;
  } catch {
    return false; // no such interpreter
  }
})();

async function torchLogits(dir: string, ids: number[]): Promise<number[][]> {
  const out = await new Deno.Command(PYTHON, {
    args: [FORWARD, dir, ids.join(",")],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.ok(out.success, `PyTorch forward failed:\n${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const MOE = { num_experts: 4, top_k: 2, layers: "all" as const, aux_loss_coef: 0.01, z_loss_coef: 0.001 };
const MODELS: [string, Partial<ModelConfig>, string][] = [
  ["a GQA model", { num_heads: 4, num_kv_heads: 2 }, "LlamaForCausalLM"],
  ["an untied model", { num_kv_heads: 1, tie_embeddings: false }, "LlamaForCausalLM"],
  ["a MoE model", { moe: MOE }, "MixtralForCausalLM"],
  [
    "a mixed dense/MoE model",
    { num_layers: 3, moe: { ...MOE, layers: "every_other" } },
    "MixtralForCausalLM",
  ],
];

/** Writes a random model of `model`'s shape and its HF export into a fresh directory; `fn` gets the directory. */
async function withExport(model: Partial<ModelConfig>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "export-hf-" });
  try {
    await writeRandomModel(`${dir}/model`, { model });
    await exportModel({ model: `${dir}/model`, format: "hf", out: `${dir}/hf` });
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const [label, model, arch] of MODELS) {
  Deno.test(`the HF export of ${label} is a ${arch} directory with transformers' files`, async () => {
    await withExport(model, async (dir) => {
      const names = [...Deno.readDirSync(`${dir}/hf`)].map((e) => e.name).sort();
      assert.deepEqual(names, [
        "README.md",
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
      ]);
      const src = await loadModel(`${dir}/model`);
      const config = JSON.parse(await Deno.readTextFile(`${dir}/hf/config.json`));
      assert.deepEqual(config.architectures, [arch]);
      assert.equal(config.tie_word_embeddings, src.model.tie_embeddings);
      assert.equal(config.num_key_value_heads, src.model.num_kv_heads);
      assert.equal(config.eos_token_id, src.tokenizer.eotId);
      assert.equal(config.torch_dtype, "float32");
      const tok = parseTokenizerJson(await Deno.readTextFile(`${dir}/hf/tokenizer.json`));
      assert.deepEqual(tok.encode(PROMPT), src.tokenizer.encode(PROMPT));
    });
  });

  Deno.test({
    name: `the HF export of ${label}: a PyTorch forward written from transformers' ${arch} matches ours` +
      (hasTorch ? "" : " (ignored: python3 cannot import torch; apt install python3-torch)"),
    ignore: !hasTorch,
    fn: async () => {
      await withExport(model, async (dir) => {
        const src = await loadModel(`${dir}/model`);
        const ids = src.tokenizer.encode(PROMPT);
        const all = [...ids, ...referenceGreedy(src.model, src.params, ids, 8)];
        const got = await torchLogits(`${dir}/hf`, all);
        const ref = referenceLogits(src.model, src.params, all);
        const V = src.model.vocab_size;
        let worst = 0;
        for (let t = 0; t < all.length; t++) {
          for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[t][v] - ref[t * V + v]));
        }
        assert.ok(worst < 1e-4, `max |logit difference| ${worst} over ${all.length} positions`);
      });
    },
  });
}

Deno.test("storyteller export reads runs:/ URIs, writes a model card with the run, and refuses what it cannot do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "export-cli-" });
  try {
    const store = `${dir}/mlruns`;
    const client = openTracking(store);
    const run = await client.createRun({ runName: "fox-run" });
    const runId = run.info.runId;
    await client.logParam(runId, "data.train", "builtin:stories");
    await client.logMetric(runId, "val_loss", 1.25, { step: 40 });
    await writeRandomModel(`${dir}/model`);
    await writeMLmodel(`${dir}/model`, { runId });
    await client.logArtifacts(runId, `${dir}/model`, "model");
    const uri = `runs:/${runId}/model`;
    const ok = await cli("export", "-m", uri, "--format", "hf", "-o", `${dir}/hf`, "--tracking-uri", store);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /Exported runs:\/.* to .*hf \(hf, f32/);
    const card = await Deno.readTextFile(`${dir}/hf/README.md`);
    assert.match(card, new RegExp(`MLflow run id: \`${runId}\``));
    assert.match(card, /run name: fox-run/);
    assert.match(card, /\| val_loss \| 1\.25 \(step 40\) \|/);
    assert.match(card, /\| data\.train \| builtin:stories \|/);

    const again = await cli(
      "export",
      "-m",
      uri,
      "--format",
      "hf",
      "-o",
      `${dir}/hf`,
      "--tracking-uri",
      store,
    );
    assert.equal(again.code, 2);
    assert.match(again.err, /Cannot export to .*hf: it already exists\nhint: pass --force/);
    const forced = await cli(
      "export",
      "-m",
      `${dir}/model`,
      "--format",
      "gguf",
      "-o",
      `${dir}/m.gguf`,
      "--dtype",
      "f16",
    );
    assert.equal(forced.code, 0, forced.err);
    const badFormat = await cli("export", "-m", `${dir}/model`, "--format", "onnx", "-o", `${dir}/x`);
    assert.equal(badFormat.code, 2);
    const noDir = await cli(
      "export",
      "-m",
      `${dir}/model`,
      "--format",
      "gguf",
      "-o",
      `${dir}/nowhere/m.gguf`,
    );
    assert.equal(noDir.code, 2);
    assert.match(noDir.err, /Cannot export to .*: the directory .*nowhere does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
