import assert from "node:assert/strict";
import { type Config, defaultConfig } from "../config/mod.ts";
import { UsageError } from "../errors.ts";
import { isHeldOut, prepareData } from "./prepare.ts";
import { generateStories } from "./stories.ts";
import { readTokenFile } from "./token_cache.ts";
import { loadTokenizer } from "./tokenizer_json.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "storyteller-prepare-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function smallConfig(dir: string): Config {
  const c = defaultConfig();
  c.model.vocab_size = 300;
  c.model.max_seq_len = 32;
  c.data.cache_dir = `${dir}/cache`;
  c.data.builtin_stories = 200;
  return c;
}

Deno.test("builtin:stories trains a tokenizer, tokenizes, splits off validation and caches it all", async () => {
  await withTemp(async (dir) => {
    const config = smallConfig(dir);
    const logs: string[] = [];
    const a = await prepareData(config, { log: (l) => logs.push(l) });
    assert.equal(a.stats.cacheHit, false);
    assert.equal(a.stats.trainDocs + a.stats.valDocs, 200);
    assert.equal(a.stats.valDocs, 10); // val_fraction 0.05
    assert.equal(a.tokenizer.vocabSize, 300);
    assert.equal(a.stats.dtype, "uint16");
    // Documents end with <|endoftext|>; the stream decodes back to the stories.
    const stories = [...generateStories({ count: 200, seed: 1 })].filter((_, i) => !isHeldOut(i, 0.05));
    assert.equal(a.tokenizer.decode(a.train), stories.map((s) => s + "<|endoftext|>").join(""));
    assert.deepEqual(await readTokenFile(a.files.train, "uint16"), a.train);
    assert.equal((await loadTokenizer(a.files.tokenizer)).vocabSize, 300);

    const b = await prepareData(config, { log: (l) => logs.push(l) });
    assert.equal(b.stats.cacheHit, true);
    assert.deepEqual(b.train, a.train);
    assert.deepEqual(b.val, a.val);
    assert.ok(
      logs.some((l) => l.startsWith("tokenizer cache hit")) &&
        logs.some((l) => l.startsWith("token cache hit")),
    );

    config.data.builtin_seed = 2; // different stories: a new cache entry
    const c = await prepareData(config);
    assert.equal(c.stats.cacheHit, false);
    assert.notDeepEqual(c.train, a.train);

    const batch = a.trainSampler({ batchSize: 2, seqLen: 32, seed: 1 }).next();
    assert.equal(batch.length, 2 * 33);
    assert.equal(a.evalSampler({ batchSize: 2, seqLen: 32 }).batch(0)[0], a.val[0]);
  });
});

Deno.test("file corpora: a changed file makes the cache stale; data.val is read separately", async () => {
  await withTemp(async (dir) => {
    const stories = [...generateStories({ count: 60, seed: 4 })];
    await Deno.writeTextFile(`${dir}/train.txt`, stories.slice(0, 50).join("\n<|endoftext|>\n"));
    await Deno.writeTextFile(
      `${dir}/val.jsonl`,
      stories.slice(50).map((text) => JSON.stringify({ text })).join("\n"),
    );
    const config = smallConfig(dir);
    config.data.train = [`${dir}/train.txt`];
    config.data.val = [`${dir}/val.jsonl`];
    const a = await prepareData(config);
    assert.deepEqual([a.stats.trainDocs, a.stats.valDocs], [50, 10]);
    assert.equal(a.tokenizer.decode(a.val, { skipSpecial: true }), stories.slice(50).join(""));
    assert.equal((await prepareData(config)).stats.cacheHit, true);
    await Deno.writeTextFile(`${dir}/train.txt`, "\n<|endoftext|>\nOne more story about a cat.", {
      append: true,
    });
    const b = await prepareData(config);
    assert.equal(b.stats.cacheHit, false);
    assert.equal(b.stats.trainDocs, 51);
  });
});

Deno.test("too little text, a missing path and a too-large tokenizer are usage errors", async () => {
  await withTemp(async (dir) => {
    await Deno.writeTextFile(`${dir}/short.txt`, "A very short story.");
    const config = smallConfig(dir);
    config.data.train = [`${dir}/short.txt`];
    config.data.val_fraction = 0;
    await assert.rejects(
      prepareData(config),
      (e) => e instanceof UsageError && /fewer than one window of 33 tokens/.test(e.message),
    );

    config.data.train = [`${dir}/missing.txt`];
    await assert.rejects(
      prepareData(config),
      (e) => e instanceof UsageError && /does not exist/.test(e.message),
    );

    config.data.train = ["builtin:stories"];
    config.data.val_fraction = 0.05;
    config.data.builtin_stories = 10; // one held-out story: shorter than a window of 257
    config.model.max_seq_len = 256;
    await assert.rejects(
      prepareData(config),
      (e) => e instanceof UsageError && /Cannot validate/.test(e.message),
    );

    config.model.max_seq_len = 32;
    config.data.builtin_stories = 200;
    const big = await prepareData(config);
    config.data.tokenizer = big.files.tokenizer;
    config.model.vocab_size = 299;
    await assert.rejects(
      prepareData(config),
      (e) => e instanceof UsageError && /set model.vocab_size to at least 300/.test(e.hint ?? ""),
    );
  });
});
