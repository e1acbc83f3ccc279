/**
 * MLflow's python_function flavor: the NumPy module written into every logged model (src/export/pyfunc/) is loaded
 * the way `mlflow.pyfunc.load_model` loads it (MLmodel's loader_module from its `code` dir, `_load_pyfunc` on its
 * `data` path) by Debian's python3 with numpy, and its greedy stories equal storyteller's token for token (the
 * reference forward for every model; the GPU engine too when there is an adapter). Its tokenizer gives our ids for
 * tricky text. Skipped without python3-numpy.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ModelConfig } from "../src/config/mod.ts";
import { PreTokenCounts, type Tokenizer, tokenizerToJson, trainBpe } from "../src/data/mod.ts";
import { Tokenizer as BpeTokenizer } from "../src/data/tokenizer.ts";
import { referenceGreedy } from "../src/export/testing.ts";
import { readMLmodel, writeMLmodel } from "../src/model/mlmodel.ts";
import { loadModel, ModelService } from "../src/serve/mod.ts";
import { writeRandomModel } from "../src/serve/testing.ts";
import { testGpu } from "../src/gpu/testing.ts";

/** Debian's python3 (where python3-numpy installs), unless STORYTELLER_PYTHON names another. */
const PYTHON = Deno.env.get("STORYTELLER_PYTHON") ?? "/usr/bin/python3";
const hasNumpy = (() => {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import numpy"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
if (!hasNumpy) {
  console.warn("skipping the pyfunc tests: python3 cannot import numpy (apt install python3-numpy)");
}

/** Loads the model as MLflow does, then runs `calls` (JSON: [method, args...]) and prints their results. */
const DRIVER = `
import importlib, json, os, sys
spec = json.loads(sys.argv[1])
sys.path.insert(0, os.path.join(spec["dir"], spec["code"]))
model = importlib.import_module(spec["loader_module"])._load_pyfunc(os.path.join(spec["dir"], spec["data"]))
out = []
for name, *args in spec["calls"]:
    try:
        target = model.tokenizer if name in ("encode", "decode") else model
        out.append({"ok": getattr(target, name)(*args)})
    except ValueError as err:
        out.append({"error": str(err)})
print(json.dumps(out))
`;

type Call = [string, ...unknown[]];

async function python(dir: string, calls: Call[]): Promise<{ ok?: unknown; error?: string }[]> {
  const { mlmodel } = await readMLmodel(dir);
  const flavor = mlmodel.flavors.python_function as Record<string, string>;
  const spec = { dir, code: flavor.code, data: flavor.data, loader_module: flavor.loader_module, calls };
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", DRIVER, JSON.stringify(spec)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `python failed:\n${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const PROMPTS = ["Once upon a time there was a little fox.", "The fox liked", " shiny stone"];
const MOE = { num_experts: 4, top_k: 2, layers: "all" as const, aux_loss_coef: 0.01, z_loss_coef: 0.001 };
const MODELS: [string, Partial<ModelConfig>][] = [
  ["a dense model", { num_heads: 4, num_kv_heads: 4 }],
  ["a GQA model with an untied head", { num_heads: 4, num_kv_heads: 1, tie_embeddings: false }],
  ["a MoE model", { moe: MOE }],
  ["a mixed dense/MoE model", { num_layers: 3, moe: { ...MOE, layers: "every_other" } }],
];

for (const [label, model] of MODELS) {
  Deno.test({
    name: `the pyfunc module's greedy stories for ${label} equal storyteller's token for token`,
    ignore: !hasNumpy,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "pyfunc-" });
      try {
        await writeRandomModel(dir, { model });
        await writeMLmodel(dir);
        const src = await loadModel(dir);
        const stop = [src.tokenizer.eotId!];
        const ids = PROMPTS.map((p) => src.tokenizer.encode(p));
        const want = ids.map((p) =>
          referenceGreedy(src.model, src.params, p, 12, stop).filter((t) => t !== stop[0])
        );
        const got = await python(dir, [
          ...ids.map((p): Call => ["generate_ids", p, 12, 0]),
          ["predict", PROMPTS, { temperature: 0, max_tokens: 12 }],
        ]);
        assert.deepEqual(got.slice(0, ids.length).map((r) => r.ok), want);
        const stories = want.map((w) => src.tokenizer.decode(w, { skipSpecial: true }));
        assert.deepEqual(got.at(-1)!.ok, stories);
        if (!testGpu || label !== "a mixed dense/MoE model") return;
        const service = new ModelService(testGpu, src, { maxBatch: 1, chunk: 16, requestTimeoutMs: 0 });
        try {
          for (const [i, prompt] of PROMPTS.entries()) {
            const done = await service.complete(prompt, { temperature: 0, maxTokens: 12 });
            assert.equal(done.text, stories[i], `the GPU engine's story for ${JSON.stringify(prompt)}`);
          }
        } finally {
          service.close();
          service.engine.destroy();
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "pyfunc predict takes MLflow's input shapes and storyteller's params, and names what is wrong",
  ignore: !hasNumpy,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "pyfunc-" });
    try {
      await writeRandomModel(dir, { maxNewTokens: 5 });
      await writeMLmodel(dir);
      const p = { temperature: 0 };
      const got = await python(dir, [
        ["predict", ["The fox"], p],
        ["predict", "The fox", p],
        ["predict", { prompt: ["The fox", "The fox"] }, p],
        ["predict", [{ prompt: "The fox" }], p],
        ["predict", [["The fox"]], p],
        ["predict", ["The fox"], { temperature: 0.9, top_k: 5, top_p: 0.5, seed: 7, max_tokens: 30 }],
        ["predict", ["The fox"], { temperature: 0.9, top_k: 5, top_p: 0.5, seed: 7, max_tokens: 30 }],
        ["predict", ["The fox"], { max_tokens: 0 }],
        ["predict", ["The fox"], { temperature: -1 }],
        ["predict", ["The fox"], { top_k: 1.5 }],
        ["predict", ["The fox"], { beam_width: 2 }],
        ["predict", [3], p],
      ]);
      const one = got[0].ok as string[];
      assert.equal(one.length, 1);
      for (const r of got.slice(1, 5)) assert.deepEqual((r.ok as string[])[0], one[0]);
      assert.equal((got[2].ok as string[]).length, 2);
      assert.deepEqual(got[5].ok, got[6].ok, "the same seed gives the same story");
      assert.deepEqual(got[7].ok, [""]);
      assert.match(
        got[8].error!,
        /Invalid value for 'params\.temperature': -1 \(expected a number from 0 to 100\)/,
      );
      assert.match(got[9].error!, /Invalid value for 'params\.top_k': 1\.5/);
      assert.match(got[10].error!, /Unknown field\(s\) \['beam_width'\] in 'params'/);
      assert.match(got[11].error!, /Invalid input: each row needs a string prompt, got 3/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const TRICKY = [
  "Hello world! It's the fox's den, isn't it? They'll say 'yes'; we'd've...",
  "  leading spaces,\ttabs\t\tand\n\nnewlines  \n  trailing   ",
  "numbers 12345 and ٣٤٥ and ½ then x2 3x and 3.14159",
  "Ünïcödé: café, naïve, straße, Ελληνικά, русский, 日本語のテキスト, 한국어",
  "emoji 🦊🌲✨ and 👩‍👩‍👧 and flags 🇫🇷 done",
  "<|endoftext|>The end.<|endoftext|><|endoftext|> next story",
  "symbols @#$%^&*()_+-=[]{}|;:,.<>/?`~ and \"quotes\" and 'single'",
  "NBSP\u00a0here, ideographic\u3000space, line\u2028sep, zero\u200bwidth, \u0085NEL",
  "'s 't 're 've 'm 'll 'd 'S 'x ''s",
  "",
  " ",
  "\n",
];

/** A tokenizer with real merges over tricky text, so the pre-tokenizer and merge order both matter. */
function trickyTokenizer(): Tokenizer {
  const counts = new PreTokenCounts();
  for (let i = 0; i < 3; i++) for (const s of TRICKY) counts.add(s + " " + s.toLowerCase());
  return trainBpe(counts, { vocabSize: 700 });
}

Deno.test({
  name:
    "the pyfunc tokenizer encodes tricky text to our ids and decodes it back, in every pre-tokenizer mode",
  ignore: !hasNumpy,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "pyfunc-tok-" });
    try {
      await writeRandomModel(dir);
      await writeMLmodel(dir);
      const base = trickyTokenizer();
      const variants: [string, Tokenizer][] = [
        ["GPT-2 regex", base],
        ["add_prefix_space", new BpeTokenizer({ ...base.parts, addPrefixSpace: true })],
        ["ignore_merges", new BpeTokenizer({ ...base.parts, ignoreMerges: true })],
        ["no regex", new BpeTokenizer({ ...base.parts, pattern: null })],
      ];
      for (const [mode, tok] of variants) {
        await Deno.writeTextFile(join(dir, "tokenizer.json"), tokenizerToJson(tok));
        const ids = TRICKY.map((s) => tok.encode(s));
        const got = await python(dir, [
          ...TRICKY.map((s): Call => ["encode", s]),
          ...ids.map((i): Call => ["decode", i, false]),
        ]);
        assert.deepEqual(got.slice(0, TRICKY.length).map((r) => r.ok), ids, mode);
        assert.deepEqual(got.slice(TRICKY.length).map((r) => r.ok), ids.map((i) => tok.decode(i)), mode);
        if (tok === base) assert.deepEqual(ids.map((i) => tok.decode(i)), TRICKY, "our own round trip");
        assert.ok(ids.some((i) => i.some((t) => t > 256)), "merges were used");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
