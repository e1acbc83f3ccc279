/**
 * GGUF export against the real llama.cpp (node-llama-cpp's prebuilt CPU build, run under Node by
 * src/export/testdata/llama_cpp_probe.mjs): for a dense, a GQA, an untied, a MoE and a mixed dense/MoE model,
 * llama.cpp tokenizes as we do, its greedy continuation equals `storyteller generate --temperature 0` token for
 * token (and the reference forward's), and its f32 logits match the reference at every position within 1e-3.
 * Needs the package: src/export/testdata/install_node_llama_cpp.sh (CI runs it); skipped without it outside CI.
 */
import assert from "node:assert/strict";
import type { ModelConfig } from "../src/config/mod.ts";
import { exportModel } from "../src/export/mod.ts";
import { referenceGreedy, referenceLogits } from "../src/export/testing.ts";
import { loadModel } from "../src/serve/mod.ts";
import { writeRandomModel } from "../src/serve/testing.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const PROBE = `${ROOT}src/export/testdata/llama_cpp_probe.mjs`;
const MODULES = Deno.env.get("STORYTELLER_LLAMA_CPP")
  ? `${Deno.env.get("STORYTELLER_LLAMA_CPP")}/node_modules`
  : `${
    Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`
  }/storyteller/node-llama-cpp/node_modules`;
const installed = (() => {
  try {
    return Deno.statSync(`${MODULES}/node-llama-cpp/package.json`).isFile;
  } catch {
    return false;
  }
})();
if (!installed && Deno.env.get("CI")) {
  throw new Error(`Cannot run the llama.cpp tests: node-llama-cpp is not in ${MODULES}`, {
    cause: "run src/export/testdata/install_node_llama_cpp.sh first",
  });
}
if (!installed) console.warn(`skipping llama.cpp tests: run src/export/testdata/install_node_llama_cpp.sh`);

const PROMPT = "Once upon a time there was a little fox. It's 3 o'clock!\n\nThe";
const STEPS = 16;
/** Texts llama.cpp must tokenize as we do: contractions, digits, runs of spaces, newlines, non-ASCII. */
const TEXTS = [
  "  two  spaces\tand\ttabs \n\n end ",
  "café naïve — 12345 ümlaut 日本",
  "they'll we've I'm it's",
];

interface Probe {
  promptIds: number[];
  generated: number[];
  text: string;
  textIds: number[][];
  logits: number[][];
}

async function probe(gguf: string): Promise<Probe> {
  const out = await new Deno.Command("node", {
    args: [PROBE, MODULES, gguf, PROMPT, String(STEPS), JSON.stringify(TEXTS)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `llama.cpp probe failed (exit ${out.code}):\n${err}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** `storyteller generate` greedy, in a subprocess (it streams to stdout): the text after the prompt. */
async function storytellerGenerate(dir: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}main.ts`,
      "generate",
      "-m",
      dir,
      "--prompt",
      PROMPT,
      "--temperature",
      "0",
      "--max-tokens",
      String(STEPS),
      "--device",
      "cpu",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `storyteller generate failed: ${new TextDecoder().decode(out.stderr)}`);
  assert.ok(
    text.startsWith(PROMPT) && text.endsWith("\n"),
    `unexpected generate output ${JSON.stringify(text)}`,
  );
  return text.slice(PROMPT.length, -1);
}

const MOE = { num_experts: 4, top_k: 2, layers: "all" as const, aux_loss_coef: 0.01, z_loss_coef: 0.001 };
const MODELS: [string, Partial<ModelConfig>][] = [
  ["a dense model", { num_kv_heads: 4 }],
  ["a GQA model", { num_heads: 4, num_kv_heads: 2 }],
  ["an untied model", { num_kv_heads: 1, tie_embeddings: false }],
  ["a MoE model", { moe: MOE }],
  ["a mixed dense/MoE model", { num_layers: 3, moe: { ...MOE, num_experts: 3, layers: "every_other" } }],
];

for (const [label, model] of MODELS) {
  Deno.test({
    name: `llama.cpp runs the GGUF export of ${label} as storyteller does`,
    ignore: !installed,
    sanitizeResources: false,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "export-gguf-" });
      try {
        await writeRandomModel(`${dir}/model`, { model, maxNewTokens: STEPS });
        await exportModel({ model: `${dir}/model`, format: "gguf", out: `${dir}/model.gguf` });
        const src = await loadModel(`${dir}/model`);
        const V = src.model.vocab_size;
        const [got, generated] = await Promise.all([
          probe(`${dir}/model.gguf`),
          storytellerGenerate(`${dir}/model`),
        ]);
        const ids = src.tokenizer.encode(PROMPT);
        assert.deepEqual(got.promptIds, ids, "llama.cpp tokenizes the prompt as storyteller");
        TEXTS.forEach((t, i) => assert.deepEqual(got.textIds[i], src.tokenizer.encode(t), `tokens of ${t}`));
        const ours = referenceGreedy(src.model, src.params, ids, STEPS, [src.tokenizer.eotId!]);
        assert.deepEqual(got.generated, ours, "greedy tokens: llama.cpp vs the reference forward");
        assert.equal(got.text, src.tokenizer.decode(ours, { skipSpecial: true }));
        assert.equal(generated, got.text, "greedy text: storyteller generate");
        const all = [...ids, ...got.generated];
        const ref = referenceLogits(src.model, src.params, all);
        let worst = 0;
        for (let t = 0; t < all.length; t++) {
          for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got.logits[t][v] - ref[t * V + v]));
        }
        assert.ok(worst < 1e-3, `max |logit difference| ${worst} over ${all.length} positions`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "llama.cpp loads an f16 GGUF export and stays close to the f32 logits",
  ignore: !installed,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "export-gguf-" });
    try {
      await writeRandomModel(`${dir}/model`, { model: { moe: MOE } });
      await exportModel({ model: `${dir}/model`, format: "gguf", out: `${dir}/model.gguf`, dtype: "f16" });
      const src = await loadModel(`${dir}/model`);
      const V = src.model.vocab_size;
      assert.ok(
        (await Deno.stat(`${dir}/model.gguf`)).size < src.params.byteLength * 0.6,
        "f16 halves the size",
      );
      const got = await probe(`${dir}/model.gguf`);
      assert.deepEqual(got.promptIds, src.tokenizer.encode(PROMPT));
      const all = [...got.promptIds, ...got.generated];
      const ref = referenceLogits(src.model, src.params, all);
      let worst = 0, scale = 0;
      for (let t = 0; t < all.length; t++) {
        for (let v = 0; v < V; v++) {
          worst = Math.max(worst, Math.abs(got.logits[t][v] - ref[t * V + v]));
          scale = Math.max(scale, Math.abs(ref[t * V + v]));
        }
      }
      // f16 weights (and llama.cpp's f16 activations in f16 matmuls) cost about three decimal digits.
      assert.ok(worst < 0.02 * scale, `max |logit difference| ${worst} with logits up to ${scale}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
