import assert from "node:assert/strict";
import { PreTokenCounts, trainBpe } from "./bpe_train.ts";
import { parseTokenizerJson, tokenizerToJson } from "./tokenizer_json.ts";
import { END_OF_TEXT, type Tokenizer } from "./tokenizer.ts";
import { generateStories } from "./stories.ts";
import { UsageError } from "../errors.ts";

function storyTokenizer(vocabSize = 400): Tokenizer {
  const pre = new PreTokenCounts();
  for (const s of generateStories({ count: 300, seed: 3 })) pre.add(s);
  return trainBpe(pre, { vocabSize });
}

const TRICKY = [
  "",
  "Once upon a time, there was a little girl named Lily.",
  "emoji 🐉🦄👩‍👩‍👧 and flags 🇫🇷",
  "中文字符和日本語のテキスト、한국어",
  "combining: e\u0301 a\u0308 n\u0303 Z\u0336\u0335",
  "control \u0000\u0001\u0007\t\r\n\u001b[0m \u007f\u0085\u2028\ufeff",
  "   leading and trailing spaces   \n\n\n",
  "numbers 3.14159 1,000,000 ½ ٣ Ⅻ",
  "it's we'll they're I'M O'Neil 'quoted'",
  `special ${END_OF_TEXT} inside${END_OF_TEXT}and again <|endoftext| almost`,
  "x".repeat(5000) + " " + "ab".repeat(3000),
];

Deno.test("decode(encode(x)) == x for tricky and random valid strings", () => {
  const tok = storyTokenizer();
  for (const s of TRICKY) assert.equal(tok.decode(tok.encode(s)), s);
  let seed = 7;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let n = 0; n < 200; n++) {
    let s = "";
    for (let i = 0; i < 40; i++) {
      let cp = rand() < 0.5 ? Math.floor(rand() * 128) : Math.floor(rand() * 0x10ffff);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
      s += String.fromCodePoint(cp);
    }
    assert.equal(tok.decode(tok.encode(s)), s);
  }
});

Deno.test("added tokens become their id wherever they are written", () => {
  const tok = storyTokenizer();
  assert.equal(tok.eotId, 256);
  const ids = tok.encode(`Hi${END_OF_TEXT}Bye`);
  assert.equal(ids.filter((i) => i === 256).length, 1);
  assert.equal(tok.decode(ids, { skipSpecial: true }), "HiBye");
  assert.ok(tok.isSpecial(256) && !tok.isSpecial(65));
});

/** Textbook BPE on stand-in strings: merge the lowest-ranked pair, leftmost first, until none applies. */
function referenceBpe(tok: Tokenizer, piece: string): string[] {
  const rank = new Map(tok.parts.merges.map(([l, r], i) => [`${l} ${r}`, i]));
  const syms = [...new TextEncoder().encode(piece)].map((b) => tok.parts.vocab[b]!);
  for (;;) {
    let best = Infinity, at = -1;
    for (let i = 0; i + 1 < syms.length; i++) {
      const r = rank.get(`${syms[i]} ${syms[i + 1]}`);
      if (r !== undefined && r < best) [best, at] = [r, i];
    }
    if (at < 0) return syms;
    syms.splice(at, 2, syms[at] + syms[at + 1]);
  }
}

Deno.test("short (quadratic) and long (heap) pre-tokens both merge like textbook BPE", () => {
  const tok = storyTokenizer();
  const words = ["happy", "friend", "together", "smiled", "the", "aaaa", "tree", "ball", "looked"];
  let seed = 11;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (const len of [1, 3, 12, 40]) { // 40 words ≈ 250 bytes: well past the heap threshold
    for (let n = 0; n < 20; n++) {
      const piece = Array.from({ length: len }, () => words[Math.floor(rand() * words.length)]).join("");
      const ids = tok.encode(piece);
      assert.deepEqual(ids.map((id) => tok.parts.vocab[id]), referenceBpe(tok, piece), piece);
    }
  }
});

Deno.test("tokenizer.json round-trips: same parts, same ids", () => {
  const tok = storyTokenizer();
  const json = tokenizerToJson(tok);
  const back = parseTokenizerJson(json);
  assert.equal(back.vocabSize, tok.vocabSize);
  assert.equal(back.mergeCount, tok.mergeCount);
  for (const s of TRICKY) assert.deepEqual(back.encode(s), tok.encode(s));
  assert.equal(tokenizerToJson(back), json);
  const parsed = JSON.parse(json);
  assert.equal(parsed.model.type, "BPE");
  assert.equal(parsed.pre_tokenizer.type, "ByteLevel");
  assert.equal(parsed.added_tokens[0].content, END_OF_TEXT);
});

Deno.test("loads merges written as arrays and honours ignore_merges", () => {
  const tok = storyTokenizer(300);
  const parsed = JSON.parse(tokenizerToJson(tok));
  parsed.model.merges = parsed.model.merges.map((m: string) => m.split(" "));
  const fromArrays = parseTokenizerJson(JSON.stringify(parsed));
  assert.deepEqual(fromArrays.encode("Lily was happy"), tok.encode("Lily was happy"));
  // ignore_merges: a vocab word is taken whole even where merges would not build it.
  parsed.model.vocab["ĠzzQ"] = 300;
  parsed.model.ignore_merges = true;
  const ignoring = parseTokenizerJson(JSON.stringify(parsed));
  assert.deepEqual(ignoring.encode(" zzQ"), [300]);
  assert.notDeepEqual(tok.encode(" zzQ"), [300]);
});

Deno.test("refuses tokenizer.json files it cannot reproduce, with UsageError", () => {
  const tok = storyTokenizer(300);
  const good = JSON.parse(tokenizerToJson(tok));
  const bad = (mutate: (j: Record<string, unknown>) => void, pattern: RegExp) => {
    const j = structuredClone(good);
    mutate(j);
    assert.throws(
      () => parseTokenizerJson(JSON.stringify(j), "x.json"),
      (e) => e instanceof UsageError && pattern.test(e.message),
    );
  };
  assert.throws(() => parseTokenizerJson("{not json", "x.json"), /Cannot load tokenizer x.json: not JSON/);
  bad((j) => (j.model as Record<string, unknown>).type = "WordPiece", /not BPE/);
  bad((j) => j.normalizer = { type: "NFC" }, /normalizers/);
  bad((j) => delete (j.model as Record<string, Record<string, number>>).vocab["Ġ"], /byte 0x20 has no token/);
  bad((j) => (j.model as Record<string, string[]>).merges.push("Ġ QQQ"), /missing from the vocab/);
  bad((j) => j.pre_tokenizer = { type: "Whitespace" }, /Whitespace is not supported/);
});

Deno.test("tokenizer.json: an id past 2^24 (a corrupt file) is refused before anything is allocated for it", () => {
  const bad = (vocab: Record<string, number>, added: unknown[] = []) =>
    JSON.stringify({
      model: { type: "BPE", vocab, merges: [] },
      added_tokens: added,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
    });
  assert.throws(
    () => parseTokenizerJson(bad({ a: 1e10 })),
    /vocab id of 'a' is 10000000000, expected an integer/,
  );
  assert.throws(() => parseTokenizerJson(bad({ a: 0 }, [{ id: -3, content: "<x>" }])), /added token id -3/);
});
