/**
 * Hugging Face `tokenizer.json` for byte-level BPE: what we write loads unchanged in HF tokenizers, and what HF
 * writes for GPT-2-style tokenizers loads here. Anything that would change the ids we cannot reproduce is refused.
 */
import { UsageError } from "../errors.ts";
import { GPT2_PATTERN } from "./byte_level.ts";
import { type AddedToken, Tokenizer, type TokenizerParts } from "./tokenizer.ts";

/** The tokenizer.json text of a tokenizer: model.vocab in id order, merges as "left right" strings. */
export function tokenizerToJson(tok: Tokenizer): string {
  const p = tok.parts;
  const vocab: string[] = [];
  p.vocab.forEach((t, id) => {
    if (t !== undefined) vocab.push(`    ${JSON.stringify(t)}: ${id}`);
  });
  const added = p.added.map((a) =>
    `    ${
      JSON.stringify({
        id: a.id,
        content: a.content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: a.special,
      })
    }`
  );
  const byteLevel = (prefix: boolean) =>
    JSON.stringify({ type: "ByteLevel", add_prefix_space: prefix, trim_offsets: true, use_regex: true });
  const preTokenizer = p.pattern === null
    ? JSON.stringify({
      type: "ByteLevel",
      add_prefix_space: !!p.addPrefixSpace,
      trim_offsets: true,
      use_regex: false,
    })
    : p.pattern === undefined || p.pattern.source === GPT2_PATTERN.source
    ? byteLevel(!!p.addPrefixSpace)
    : JSON.stringify({
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: p.pattern.source }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: !!p.addPrefixSpace, trim_offsets: false, use_regex: false },
      ],
    });
  return [
    "{",
    `  "version": "1.0",`,
    `  "truncation": null,`,
    `  "padding": null,`,
    `  "added_tokens": [\n${added.join(",\n")}\n  ],`,
    `  "normalizer": null,`,
    `  "pre_tokenizer": ${preTokenizer},`,
    `  "post_processor": null,`,
    `  "decoder": ${byteLevel(true)},`,
    `  "model": {`,
    `    "type": "BPE",`,
    `    "dropout": null,`,
    `    "unk_token": null,`,
    `    "continuing_subword_prefix": null,`,
    `    "end_of_word_suffix": null,`,
    `    "fuse_unk": false,`,
    `    "byte_fallback": false,`,
    `    "ignore_merges": ${!!p.ignoreMerges},`,
    `    "vocab": {\n${vocab.map((v) => "  " + v).join(",\n")}\n    },`,
    `    "merges": [\n${p.merges.map(([l, r]) => `      ${JSON.stringify(`${l} ${r}`)}`).join(",\n")}\n    ]`,
    `  }`,
    "}",
    "",
  ].join("\n");
}

type Json = Record<string, unknown>;

/** Builds a tokenizer from tokenizer.json text; `source` names the file in errors. */
/** Ids past this are refused: 16M is far beyond any vocabulary storyteller trains or serves (GPT-4's has 100k). */
const MAX_ID = 1 << 24;

export function parseTokenizerJson(text: string, source = "tokenizer.json"): Tokenizer {
  let root: Json;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`Cannot load tokenizer ${source}: not JSON (${(err as Error).message})`);
  }
  const fail = (what: string): never => {
    throw new UsageError(`Cannot load tokenizer ${source}: ${what}`, {
      hint:
        "storyteller reads byte-level BPE tokenizer.json files (GPT-2 style), as `storyteller tokenizer train` writes",
    });
  };
  const model = root?.model as Json | undefined;
  if (typeof model !== "object" || model === null) fail("no model section");
  if (model!.type !== undefined && model!.type !== "BPE") fail(`model type ${model!.type} is not BPE`);
  if (model!.dropout) fail("BPE dropout is not supported");
  if (model!.continuing_subword_prefix || model!.end_of_word_suffix) {
    fail("subword prefixes/suffixes are not byte-level BPE");
  }
  if (root.normalizer !== null && root.normalizer !== undefined) fail("normalizers are not supported");
  const vocabObj = model!.vocab as Record<string, number>;
  if (typeof vocabObj !== "object" || vocabObj === null) fail("model.vocab is missing");
  const vocab: (string | undefined)[] = [];
  // Ids index arrays as large as the largest id: a corrupt one (1e10) must be refused, not allocated.
  const idOk = (id: unknown): id is number =>
    Number.isInteger(id) && (id as number) >= 0 && (id as number) < MAX_ID;
  for (const [tok, id] of Object.entries(vocabObj)) {
    if (!idOk(id)) {
      fail(`vocab id of '${tok}' is ${JSON.stringify(id)}, expected an integer from 0 to ${MAX_ID - 1}`);
    }
    vocab[id] = tok;
  }
  const merges: [string, string][] = [];
  for (const m of (model!.merges ?? []) as unknown[]) {
    if (typeof m === "string") {
      const at = m.indexOf(" ", 1);
      if (at < 0) fail(`merge '${m}' is not 'left right'`);
      merges.push([m.slice(0, at), m.slice(at + 1)]);
    } else if (Array.isArray(m) && m.length === 2) merges.push([String(m[0]), String(m[1])]);
    else fail(`merge ${JSON.stringify(m)} is not a pair`);
  }
  const added: AddedToken[] = [];
  for (const a of (root.added_tokens ?? []) as Json[]) {
    if (a.lstrip || a.rstrip || a.single_word) {
      fail(`added token '${a.content}' uses lstrip/rstrip/single_word`);
    }
    if (!idOk(a.id)) fail(`added token id ${JSON.stringify(a.id)} is not an integer from 0 to ${MAX_ID - 1}`);
    added.push({ id: a.id as number, content: String(a.content), special: a.special !== false });
  }
  const parts: TokenizerParts = { vocab, merges, added, ignoreMerges: model!.ignore_merges === true };
  readPreTokenizer(root.pre_tokenizer as Json | null, parts, fail);
  return new Tokenizer(parts);
}

function readPreTokenizer(pt: Json | null, parts: TokenizerParts, fail: (what: string) => never): void {
  if (pt === null || pt === undefined) return fail("no pre_tokenizer (byte-level BPE needs ByteLevel)");
  if (pt.type === "ByteLevel") {
    parts.addPrefixSpace = pt.add_prefix_space === true;
    parts.pattern = pt.use_regex === false ? null : GPT2_PATTERN;
    return;
  }
  const seq = pt.pretokenizers as Json[] | undefined;
  if (pt.type === "Sequence" && seq?.length === 2 && seq[0].type === "Split" && seq[1].type === "ByteLevel") {
    const [split, bl] = seq;
    const pattern = (split.pattern as Json)?.Regex;
    if (typeof pattern !== "string" || split.behavior !== "Isolated" || split.invert) {
      return fail("only an isolating Split by regex before ByteLevel is supported");
    }
    if (bl.use_regex !== false) return fail("ByteLevel after Split must have use_regex false");
    try {
      parts.pattern = new RegExp(pattern, "gu");
    } catch (err) {
      return fail(`split pattern is not a JavaScript regex (${(err as Error).message})`);
    }
    parts.addPrefixSpace = bl.add_prefix_space === true;
    return;
  }
  return fail(`pre_tokenizer ${pt.type} is not supported`);
}

/** Reads a tokenizer.json file. */
export async function loadTokenizer(path: string): Promise<Tokenizer> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const seen = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
    throw new UsageError(`Cannot read tokenizer ${path}: ${seen}`, {
      hint: "train one with `storyteller tokenizer train --data <files> -o tokenizer.json`",
    });
  }
  return parseTokenizerJson(text, path);
}

/** Writes a tokenizer.json file atomically (temp file + rename). */
export async function saveTokenizer(tok: Tokenizer, path: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(tmp, tokenizerToJson(tok));
  await Deno.rename(tmp, path);
}
