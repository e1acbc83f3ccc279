/**
 * Our byte-level BPE against Hugging Face tokenizers (the Rust implementation, npm `tokenizers`, a test-only
 * dependency) on the same tokenizer.json: identical ids on the whole TinyStories validation file and on edge cases,
 * and HF's own re-serialisation of the file loads here unchanged.
 */
import assert from "node:assert/strict";
import { Tokenizer as HfTokenizer } from "tokenizers";
import {
  parseTokenizerJson,
  PreTokenCounts,
  readCorpus,
  resolveCorpus,
  type Tokenizer,
  tokenizerToJson,
  trainBpe,
} from "../src/data/mod.ts";

const DATA = new URL("../../shared/data/tinystories/", import.meta.url).pathname;
const haveData = await Deno.stat(`${DATA}tinystories-valid.txt`).then(() => true, () => false);

async function hfIds(hf: HfTokenizer, text: string): Promise<number[]> {
  return (await hf.encode(text, null, { addSpecialTokens: false })).getIds();
}

function firstDifference(a: number[], b: number[]): string {
  const i = a.findIndex((x, k) => x !== b[k]);
  const at = i < 0 ? Math.min(a.length, b.length) : i;
  return `first difference at ${at}: ours ${a.slice(at, at + 8)} vs HF ${b.slice(at, at + 8)}`;
}

const EDGE_CASES = [
  "Hello world! It's 2026; we've got 3.5 apples & 1,000 pears...",
  "  double  spaces\t\ttabs\n\n\nnewlines   \n  trailing   ",
  "emoji 🐉🦄 family 👩‍👩‍👧 flag 🇫🇷 keycap 1️⃣",
  "中文字符和日本語のテキスト、한국어 Ελληνικά русский עברית العربية",
  "combining e\u0301 a\u0308 n\u0303, zero-width \u200b\u200c\u200d joiners",
  "controls \u0000\u0001\u0007\u001b[0m\u007f nel\u0085 bom\ufeff nbsp\u00a0 ls\u2028 ideographic\u3000space",
  "whitespace as Oniguruma sees it: x \u0085y x \ufeffy !!\u0085\u0085!! a\u0085\u0085 b \ufeff\ufeff c",
  "numbers ٣٤ Ⅻ ½ ²³ ①② and 'quotes' \"double\" it'S I'LL don't",
  "<|endoftext|>Once upon a time<|endoftext|> <|endoftext|>\n<|endoftext|",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "thebigdogranthroughthegardenandthelittlecatsatonthematbythedoor".repeat(6),
];

Deno.test({
  name:
    "ids equal HF tokenizers' on the whole TinyStories validation file (tokenizer trained on the train file)" +
    (haveData ? "" : " (ignored: ../shared/data/tinystories is not beside this checkout)"),
  ignore: !haveData,
  fn: async () => {
    const pre = new PreTokenCounts();
    for await (const doc of readCorpus(await resolveCorpus([`${DATA}tinystories-train.txt`]))) pre.add(doc);
    const ours = trainBpe(pre, { vocabSize: 4096 });
    const json = tokenizerToJson(ours);
    const hf = HfTokenizer.fromString(json);
    assert.equal(hf.getVocabSize(true), 4096);

    const valid = await Deno.readTextFile(`${DATA}tinystories-valid.txt`); // whole file, 0.8 MB, separators included
    const a = ours.encode(valid), b = await hfIds(hf, valid);
    assert.equal(a.length, b.length, firstDifference(a, b));
    assert.deepEqual(a, b, firstDifference(a, b));
    assert.equal(ours.decode(a), valid);
    assert.equal(await hf.decode(a, false), valid);
    await checkEdgeCases(ours, hf);
  },
});

Deno.test("ids equal HF's on edge cases, and HF's own re-saved tokenizer.json loads here", async () => {
  const pre = new PreTokenCounts();
  for (const s of EDGE_CASES) pre.add(s.repeat(3));
  pre.add("The little dog and the big cat played in the garden. ".repeat(20));
  const ours = trainBpe(pre, { vocabSize: 420 });
  const hf = HfTokenizer.fromString(tokenizerToJson(ours));
  await checkEdgeCases(ours, hf);

  const dir = await Deno.makeTempDir({ prefix: "storyteller-hf-" });
  try {
    hf.save(`${dir}/hf.json`, true);
    const fromHf = parseTokenizerJson(await Deno.readTextFile(`${dir}/hf.json`), "hf.json");
    assert.equal(fromHf.vocabSize, ours.vocabSize);
    for (const s of EDGE_CASES) assert.deepEqual(fromHf.encode(s), ours.encode(s));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function checkEdgeCases(ours: Tokenizer, hf: HfTokenizer): Promise<void> {
  for (const s of EDGE_CASES) {
    const a = ours.encode(s), b = await hfIds(hf, s);
    assert.deepEqual(a, b, `${JSON.stringify(s.slice(0, 40))}: ${firstDifference(a, b)}`);
    assert.equal(ours.decode(a), s);
  }
}
