import assert from "node:assert/strict";
import { PreTokenCounts, trainBpe } from "./bpe_train.ts";
import { UsageError } from "../errors.ts";
import { generateStories } from "./stories.ts";

function counts(...docs: string[]): PreTokenCounts {
  const pre = new PreTokenCounts();
  for (const d of docs) pre.add(d);
  return pre;
}

Deno.test("learns the most frequent pair first, ties to the smaller ids", () => {
  // " low" ×5, " lower" ×2, " newest" ×6, " widest" ×3 (the textbook example, with GPT-2's leading spaces)
  const doc = [
    ..." low".repeat(5).split(/(?= )/),
    ...Array(2).fill(" lower"),
    ...Array(6).fill(" newest"),
    ...Array(3).fill(" widest"),
  ].join("");
  const tok = trainBpe(counts(doc), { vocabSize: 262 });
  // "e s" appears 9 times (newest ×6 + widest ×3), as does "s t"; 'e' < 's' so "e s" comes first.
  assert.deepEqual(tok.parts.merges.slice(0, 2), [["e", "s"], ["es", "t"]]);
  assert.equal(tok.vocabSize, 262);
  const pieces = tok.encode(" newest").map((id) => tok.parts.vocab[id]);
  assert.equal(pieces.join(""), "Ġnewest");
  assert.ok(pieces.at(-1)!.endsWith("est"));
});

Deno.test("vocab = 256 bytes + <|endoftext|> + merges; training is deterministic", () => {
  const text = [...generateStories({ count: 50, seed: 2 })].join("\n");
  const a = trainBpe(counts(text), { vocabSize: 280 }), b = trainBpe(counts(text), { vocabSize: 280 });
  assert.equal(a.vocabSize, 280);
  assert.equal(a.mergeCount, 280 - 257);
  assert.deepEqual(a.parts.merges, b.parts.merges);
  assert.equal(a.parts.vocab[256], "<|endoftext|>");
  assert.equal(a.encode(" the").length, 1); // the most frequent word of the stories is one token
});

Deno.test("stops early when the corpus runs out of pairs", () => {
  const tok = trainBpe(counts("ab ab ab"), { vocabSize: 1000 });
  assert.ok(tok.vocabSize < 1000);
  assert.deepEqual(tok.encode(" ab").length, 1);
});

Deno.test("<|endoftext|> written in a document is not learned from", () => {
  const pre = counts("hello<|endoftext|>world");
  assert.deepEqual([...pre.counts.keys()].sort(), ["hello", "world"]);
});

Deno.test("refuses a vocab too small for the byte alphabet", () => {
  assert.throws(() => trainBpe(counts("abc"), { vocabSize: 200 }), UsageError);
});
