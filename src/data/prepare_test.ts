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

    // Existing caches stay valid: the key of this configuration is pinned (it was data-380c15e47c12e168a9af
    // before the dataset digests were added; change it only together with CACHE_VERSION).
    assert.match(a.files.train, /\/data-380c15e47c12e168a9af\/train\.bin$/);

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

Deno.test("dataset digests: stable across runs and cache hits, different when the text or tokenization is", async () => {
  await withTemp(async (dir) => {
    const config = smallConfig(dir);
    const a = (await prepareData(config)).stats.datasets;
    assert.equal(a.training.name, "builtin:stories");
    assert.equal(a.validation?.name, "builtin:stories (val_fraction 0.05)");
    assert.deepEqual(a.training.sources, [{ kind: "builtin", stories: 200, seed: 1, generator: 1 }]);
    assert.deepEqual([a.training.docs, a.validation?.docs], [190, 10]);
    assert.match(a.training.digest, /^[0-9a-f]{8}$/);
    assert.notEqual(a.training.digest, a.validation?.digest, "the held-out split is other text");
    const hit = await prepareData(config);
    assert.equal(hit.stats.cacheHit, true);
    assert.deepEqual(hit.stats.datasets, a, "a cache hit describes the same datasets");
    assert.equal(hit.stats.datasets.training.tokens, hit.train.length);

    const digests = async (change: (c: Config) => void) => {
      const c = smallConfig(dir);
      change(c);
      const d = (await prepareData(c)).stats.datasets;
      return [d.training.digest, d.validation?.digest];
    };
    const base = [a.training.digest, a.validation?.digest];
    assert.deepEqual(await digests(() => {}), base, "same inputs, same digests");
    const seed = await digests((c) => c.data.builtin_seed = 2);
    assert.ok(seed[0] !== base[0] && seed[1] !== base[1], "other stories");
    const vocab = await digests((c) => c.model.vocab_size = 280);
    assert.ok(vocab[0] !== base[0] && vocab[1] !== base[1], "another tokenizer");
    const split = await digests((c) => c.data.val_fraction = 0.1);
    assert.ok(split[0] !== base[0] && split[1] !== base[1], "another hold-out");
    const none = await prepareData({ ...config, data: { ...config.data, val_fraction: 0 } });
    assert.equal(none.stats.datasets.validation, null, "no validation text, no validation dataset");
  });
});

Deno.test("dataset digests of files: identified by path, size and mtime, never read again", async () => {
  await withTemp(async (dir) => {
    const stories = [...generateStories({ count: 60, seed: 4 })];
    await Deno.writeTextFile(`${dir}/train.txt`, stories.slice(0, 50).join("\n<|endoftext|>\n"));
    await Deno.writeTextFile(`${dir}/val.txt`, stories.slice(50).join("\n<|endoftext|>\n"));
    const config = smallConfig(dir);
    config.data.train = [`${dir}/train.txt`];
    config.data.val = [`${dir}/val.txt`];
    const a = (await prepareData(config)).stats.datasets;
    assert.equal(a.training.name, `${dir}/train.txt`);
    assert.equal(a.validation?.name, `${dir}/val.txt`);
    assert.deepEqual(a.validation?.sources.map((s) => s.kind === "file" && s.path), [
      await Deno.realPath(`${dir}/val.txt`),
    ]);
    assert.equal(a.validation?.holdOut, 0);

    // The same bytes with another mtime are another dataset to the cache, and so to the digest.
    await Deno.utime(`${dir}/val.txt`, 1_700_000_000, 1_700_000_000);
    const b = (await prepareData(config)).stats.datasets;
    assert.equal(b.training.digest, a.training.digest, "the training text did not change");
    assert.notEqual(b.validation?.digest, a.validation?.digest);

    // Other bytes with the same identity (size, mtime): the digest comes from the identity, not the text.
    const text = await Deno.readTextFile(`${dir}/train.txt`);
    const { mtime } = await Deno.stat(`${dir}/train.txt`);
    await Deno.writeTextFile(`${dir}/train.txt`, text.replace(/a/g, "o"));
    await Deno.utime(`${dir}/train.txt`, mtime!, mtime!);
    const c = await prepareData(config);
    assert.equal(c.stats.cacheHit, true);
    assert.deepEqual(c.stats.datasets, b);
  });
});
