/** `storyteller tokenizer train/encode/decode/stats` end to end, and their usage errors (exit 2). */
import assert from "node:assert/strict";
import { run } from "../src/cli/mod.ts";
import { loadTokenizer } from "../src/data/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function storyteller(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("tokenizer train on builtin:stories with no files, then encode → decode → stats", async () => {
  const dir = await Deno.makeTempDir({ prefix: "storyteller-tokcli-" });
  try {
    const path = `${dir}/tok.json`;
    assert.equal(
      await run(["tokenizer", "train", "--vocab-size", "400", "--builtin-stories", "300", "-o", path]),
      0,
    );
    const tok = await loadTokenizer(path);
    assert.equal(tok.vocabSize, 400);

    const text = "Once upon a time, Lily found a 🐉 <|endoftext|>";
    const enc = await storyteller(["tokenizer", "encode", "-t", path, text]);
    assert.equal(enc.code, 0, enc.stderr);
    assert.deepEqual(enc.stdout.trim().split(" ").map(Number), tok.encode(text));
    const dec = await storyteller(["tokenizer", "decode", "-t", path], enc.stdout);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stdout, text + "\n");

    await Deno.writeTextFile(`${dir}/c.txt`, "The cat sat.\n<|endoftext|>\nThe dog ran.\n");
    const stats = await storyteller(["tokenizer", "stats", "-t", path, "-d", `${dir}/c.txt`]);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /2 documents, 24 bytes/);
    assert.match(stats.stdout, /tokens per byte/);
    assert.match(stats.stdout, /coverage: \d+ of 400 ids used/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokenizer usage errors exit 2", async () => {
  const missing = await storyteller([
    "tokenizer",
    "train",
    "-d",
    "/no/such/corpus.txt",
    "-o",
    "/tmp/never.json",
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Cannot read corpus: '\/no\/such\/corpus.txt' does not exist\nhint: /);
  assert.equal(await run(["tokenizer", "train", "--vocab-size", "100", "-o", "/tmp/never.json"]), 2);
  assert.equal(await run(["tokenizer", "encode", "hello"]), 2); // no --tokenizer
  assert.equal(await run(["tokenizer", "decode", "-t", "/no/such/tokenizer.json", "1"]), 2);
  assert.equal(await run(["tokenizer", "stats", "-t", "x.json", "--format", "csv"]), 2);
});
