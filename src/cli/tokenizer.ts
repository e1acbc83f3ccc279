/** `storyteller tokenizer`: train, apply and inspect byte-level BPE tokenizers (HF tokenizer.json files). */
import { Command } from "commander";
import { UsageError } from "../errors.ts";
import {
  BUILTIN_STORIES,
  type CorpusFormat,
  type CorpusOptions,
  describeSources,
  loadTokenizer,
  PreTokenCounts,
  readCorpus,
  resolveCorpus,
  saveTokenizer,
  type Tokenizer,
  trainBpe,
} from "../data/mod.ts";
import { collect, intOption, seedOption } from "./_options.ts";
import { bold } from "./output.ts";

interface CorpusFlags {
  data: string[];
  format: "auto" | CorpusFormat;
  textField: string;
  builtinStories: number;
  seed: number;
}

function corpusOptions(cmd: Command): Command {
  return cmd
    .option(
      "-d, --data <path>",
      `corpus file, directory or glob, or ${BUILTIN_STORIES} (repeatable)`,
      collect,
      [],
    )
    .option("--format <format>", "auto, text (<|endoftext|>-separated), paragraphs or jsonl", "auto")
    .option("--text-field <name>", "field holding the text in .jsonl files", "text")
    .option(
      "--builtin-stories <n>",
      `stories ${BUILTIN_STORIES} generates`,
      intOption("--builtin-stories", 1),
      20000,
    )
    .option("--seed <n>", `seed of ${BUILTIN_STORIES}`, seedOption("--seed"), 1);
}

function toCorpusOptions(f: CorpusFlags): CorpusOptions {
  if (!["auto", "text", "paragraphs", "jsonl"].includes(f.format)) {
    throw new UsageError(
      `Cannot parse --format: expected auto, text, paragraphs or jsonl, got '${f.format}'`,
    );
  }
  return { format: f.format, textField: f.textField, builtinStories: f.builtinStories, builtinSeed: f.seed };
}

export function tokenizerCommand(): Command {
  const cmd = new Command("tokenizer").description("train, apply and inspect byte-level BPE tokenizers");
  cmd.addCommand(
    corpusOptions(new Command("train"))
      .description("learn BPE merges from a corpus and write a Hugging Face tokenizer.json")
      .option(
        "--vocab-size <n>",
        "ids in total: 256 bytes + <|endoftext|> + merges",
        intOption("--vocab-size", 257),
        4096,
      )
      .option(
        "--max-chars <n>",
        "stop reading the corpus after this many characters",
        intOption("--max-chars", 1),
      )
      .requiredOption("-o, --output <path>", "where to write tokenizer.json")
      .action(async (o: CorpusFlags & { vocabSize: number; maxChars?: number; output: string }) => {
        const opts = toCorpusOptions(o);
        const sources = await resolveCorpus(o.data.length ? o.data : [BUILTIN_STORIES], opts);
        const t0 = performance.now();
        const pre = new PreTokenCounts();
        let docs = 0;
        for await (const doc of readCorpus(sources, opts)) {
          pre.add(doc);
          docs++;
          if (o.maxChars !== undefined && pre.chars >= o.maxChars) break;
        }
        const t1 = performance.now();
        const tok = trainBpe(pre, { vocabSize: o.vocabSize });
        const t2 = performance.now();
        await saveTokenizer(tok, o.output);
        console.log(
          `${
            bold("tokenizer")
          } ${o.output}: ${tok.vocabSize} ids (${tok.mergeCount} merges) from ${docs} documents, ` +
            `${pre.chars.toLocaleString("en-US")} characters of ${describeSources(sources)}\n` +
            `read + pre-tokenize ${secs(t1 - t0)}, merges ${secs(t2 - t1)}`,
        );
        if (tok.vocabSize < o.vocabSize) {
          console.log(
            `${tok.vocabSize} of the ${o.vocabSize} ids asked: the corpus ran out of pairs to merge ` +
              `(${
                pre.counts.size.toLocaleString("en-US")
              } distinct words); a larger or more varied corpus gives more`,
          );
        }
      }),
  );
  cmd.addCommand(
    new Command("encode")
      .description("print the token ids of text (the arguments, or stdin)")
      .requiredOption("-t, --tokenizer <path>", "tokenizer.json")
      .option("--json", "print a JSON array instead of space-separated ids")
      .option("--tokens", "print each token's text instead of its id")
      .argument("[text...]", "text to encode (default: read stdin)")
      .action(async (text: string[], o: { tokenizer: string; json?: boolean; tokens?: boolean }) => {
        const tok = await loadTokenizer(o.tokenizer);
        const input = text.length ? text.join(" ") : await readStdin();
        const ids = tok.encode(input);
        const out = o.tokens ? ids.map((id) => tokenText(tok, id)) : ids;
        console.log(o.json || o.tokens ? JSON.stringify(out) : ids.join(" "));
      }),
  );
  cmd.addCommand(
    new Command("decode")
      .description("print the text of token ids (the arguments, or stdin; spaces or commas between)")
      .requiredOption("-t, --tokenizer <path>", "tokenizer.json")
      .option("--skip-special", "leave out special tokens such as <|endoftext|>")
      .argument("[ids...]", "token ids (default: read stdin)")
      .action(async (args: string[], o: { tokenizer: string; skipSpecial?: boolean }) => {
        const tok = await loadTokenizer(o.tokenizer);
        const words = (args.length ? args.join(" ") : await readStdin()).split(/[\s,[\]]+/).filter((w) => w);
        const ids = words.map((w) => {
          const id = Number(w);
          if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) {
            throw new UsageError(`Cannot decode '${w}': expected a token id in [0, ${tok.vocabSize})`);
          }
          return id;
        });
        await writeStdout(tok.decode(ids, { skipSpecial: o.skipSpecial }) + "\n");
      }),
  );
  cmd.addCommand(
    corpusOptions(new Command("stats"))
      .description("tokens per byte and vocabulary coverage of a tokenizer on a corpus")
      .requiredOption("-t, --tokenizer <path>", "tokenizer.json")
      .action(async (o: CorpusFlags & { tokenizer: string }) => {
        const opts = toCorpusOptions(o);
        const tok = await loadTokenizer(o.tokenizer);
        const sources = await resolveCorpus(o.data.length ? o.data : [BUILTIN_STORIES], opts);
        console.log(
          formatStats(await tokenizerStats(tok, readCorpus(sources, opts)), tok, describeSources(sources)),
        );
      }),
  );
  return cmd;
}

/** What `tokenizer stats` measures. */
export interface TokenizerStats {
  docs: number;
  bytes: number;
  tokens: number;
  /** Distinct ids that occur. */
  used: number;
  /** Tokens that are a single byte (no merge covered them). */
  byteTokens: number;
  seconds: number;
}

/** Encodes a corpus and counts; documents are separated by `<|endoftext|>` as in training. */
export async function tokenizerStats(tok: Tokenizer, docs: AsyncIterable<string>): Promise<TokenizerStats> {
  const seen = new Uint8Array(tok.vocabSize), enc = new TextEncoder(), ids: number[] = [];
  const s: TokenizerStats = { docs: 0, bytes: 0, tokens: 0, used: 0, byteTokens: 0, seconds: 0 };
  const t0 = performance.now();
  for await (const doc of docs) {
    ids.length = 0;
    tok.encodeTo(doc, ids);
    s.docs++;
    s.bytes += enc.encode(doc).length;
    s.tokens += ids.length;
    for (const id of ids) {
      if (!seen[id]) s.used++, seen[id] = 1;
      if (tok.tokenBytes(id).length === 1 && !tok.isSpecial(id)) s.byteTokens++;
    }
  }
  s.seconds = (performance.now() - t0) / 1000;
  return s;
}

function formatStats(s: TokenizerStats, tok: Tokenizer, where: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  return [
    `${bold("corpus")}: ${where}: ${s.docs} documents, ${s.bytes.toLocaleString("en-US")} bytes`,
    `${bold("tokens")}: ${s.tokens.toLocaleString("en-US")} (${
      (s.tokens / s.bytes).toFixed(4)
    } tokens per byte, ` +
    `${(s.bytes / s.tokens).toFixed(2)} bytes per token)`,
    `${bold("coverage")}: ${s.used} of ${tok.vocabSize} ids used (${pct(s.used / tok.vocabSize)}); ` +
    `${pct(s.byteTokens / Math.max(1, s.tokens))} of tokens are single bytes`,
    `${bold("speed")}: ${(s.bytes / 1e6 / s.seconds).toFixed(1)} MB/s (read + encode)`,
  ].join("\n");
}

function tokenText(tok: Tokenizer, id: number): string {
  return new TextDecoder().decode(tok.tokenBytes(id));
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

async function writeStdout(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
}
