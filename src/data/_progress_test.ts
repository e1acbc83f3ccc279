import assert from "node:assert/strict";
import { CorpusProgress } from "./_progress.ts";

Deno.test("corpus progress: share of the bytes (or stories) read, an ETA once 2 % are done, silent between lines", () => {
  const lines: string[] = [];
  const files = [{ kind: "file" as const, path: "a.txt", format: "text" as const, size: 1000, mtimeMs: 0 }];
  const p = new CorpusProgress("tokenizing", files, (l) => lines.push(l), Infinity, 0);
  p.add("x".repeat(10));
  assert.match(lines[0], /^tokenizing: 1 documents, 10 characters \(1 %\), \d+s so far$/);
  p.add("x".repeat(240), () => "62 tokens");
  assert.match(
    lines[1],
    /^tokenizing: 2 documents, 250 characters, 62 tokens \(25 %, ETA \d+s\), \d+s so far$/,
  );
  assert.equal(p.fraction, 0.25);
  const capped = new CorpusProgress("tokenizer", files, () => {}, 500, 0);
  capped.add("x".repeat(250));
  assert.equal(capped.fraction, 0.5, "a sample cap is the whole pass");
  const stories = new CorpusProgress("t", [{ kind: "builtin", stories: 4, seed: 1 }], () => {}, Infinity, 0);
  stories.add("a story");
  assert.equal(stories.fraction, 0.25);
  const quiet: string[] = [];
  const slow = new CorpusProgress("t", files, (l) => quiet.push(l));
  for (let i = 0; i < 100; i++) slow.add("doc");
  assert.deepEqual(quiet, [], "nothing before the first interval");
});
