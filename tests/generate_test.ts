/**
 * `storyteller generate` as a newcomer runs it: --max-tokens past the model's context keeps writing (the window
 * slides), a story that ends itself says so, and the model-not-found family exits 2 with a hint that fixes it
 * (as `models set-alias` does for an unknown model); seeds outside 0..2^53 − 1 name the range.
 */
import assert from "node:assert/strict";
import { gpuTest } from "../src/gpu/testing.ts";
import { loadModel } from "../src/serve/mod.ts";
import { writeRandomModel } from "../src/serve/testing.ts";
import { cli } from "./_cli.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function storyteller(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1", STORYTELLER_TUNING: "off" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

gpuTest("generate: --max-tokens past the context slides the window instead of stopping at it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-generate-" });
  try {
    await writeRandomModel(`${dir}/model`, { seed: 4 }); // a 64-position context
    const loaded = await loadModel(`${dir}/model`);
    const eot = loaded.tokenizer.eotId!;
    const prompt = "Once";
    const r = await storyteller(
      ...["generate", "-m", `${dir}/model`, "--prompt", prompt, "--max-tokens", "150"],
      ...["--temperature", "1", "--seed", "3", "--logit-bias", `${eot}=-100`],
    );
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.startsWith(prompt));
    // Re-encoding merges some pieces, so count generously: well past the 63 positions left after the prompt.
    const tokens = loaded.tokenizer.encode(r.out.slice(prompt.length).replace(/\n$/, "")).length;
    assert.ok(tokens > 100, `${tokens} tokens written`);
    assert.doesNotMatch(r.err, /stopped/);

    // The model directory's parent: exit 2 and the path that works.
    const parent = await storyteller("generate", "-m", dir, "--max-tokens", "2");
    assert.equal(parent.code, 2, parent.err);
    assert.match(
      parent.err,
      /Cannot load the model .*config\.json .* is missing\nhint: the model is in its 'model' folder: use -m .*\/model\n/,
    );
    const missing = await storyteller("generate", "-m", `${dir}/nope`);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no such directory\nhint: pass a model directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generate --seed: 2^64 − 1 is refused with the range, before any model is read", async () => {
  const r = await cli("generate", "-m", "/nonexistent", "--seed", "18446744073709551615");
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /Cannot parse --seed: expected an integer from 0 to 9007199254740991 \(2\^53 − 1\), got '18446744073709551615'/,
  );
});
