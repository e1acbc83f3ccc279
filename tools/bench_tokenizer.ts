/**
 * Benchmark of the data side: BPE training, encode throughput against HF tokenizers (Rust, npm `tokenizers`),
 * the builtin:stories generator and prepareData. Prints one line per figure; copy them into docs/benchmarks.md.
 *
 *   deno run -A tools/bench_tokenizer.ts [train.txt] [valid.txt]
 *
 * Defaults to ../shared/data/tinystories/. Also checks that our ids equal HF's on both whole files.
 */
import { Tokenizer as HfTokenizer } from "tokenizers";
import { defaultConfig } from "../src/config/mod.ts";
import {
  generateStories,
  parseTokenizerJson,
  prepareData,
  PreTokenCounts,
  readCorpus,
  resolveCorpus,
  tokenizerToJson,
  trainBpe,
} from "../src/data/mod.ts";

const DATA = new URL("../../shared/data/tinystories/", import.meta.url).pathname;
const trainPath = Deno.args[0] ?? `${DATA}tinystories-train.txt`;
const validPath = Deno.args[1] ?? `${DATA}tinystories-valid.txt`;
const MB = (bytes: number) => bytes / 1e6;

function line(what: string, value: string): void {
  console.log(`${what.padEnd(58)} ${value}`);
}

async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, (performance.now() - t0) / 1000];
}

// 1. BPE training: read + pre-tokenize + merges, in process.
const trainBytes = (await Deno.stat(trainPath)).size;
const [tok, trainSecs] = await timed(async () => {
  const pre = new PreTokenCounts();
  for await (const doc of readCorpus(await resolveCorpus([trainPath]))) pre.add(doc);
  return trainBpe(pre, { vocabSize: 4096 });
});
line(
  `train 4096-id BPE on ${MB(trainBytes).toFixed(2)} MB (read+pretokenize+merge)`,
  `${trainSecs.toFixed(2)} s`,
);

// The same through the CLI, process start included.
const out = await Deno.makeTempFile({ suffix: ".json" });
const [cli, cliSecs] = await timed(() =>
  new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "tokenizer",
      "train",
      "-d",
      trainPath,
      "-o",
      out,
    ],
    stdout: "null",
  }).output()
);
line(
  "storyteller tokenizer train --vocab-size 4096 (wall, whole process)",
  `${cliSecs.toFixed(2)} s (exit ${cli.code})`,
);
await Deno.remove(out);

// 2. Encode throughput, ours vs HF, whole files in one call; then per document as the token cache does.
const json = tokenizerToJson(tok);
const hf = HfTokenizer.fromString(json);
for (const path of [validPath, trainPath]) {
  const text = await Deno.readTextFile(path);
  const bytes = new TextEncoder().encode(text).length;
  const name = path.split("/").pop()!;
  const fresh = parseTokenizerJson(json); // empty pre-token cache
  const [cold, coldSecs] = await timed(() => fresh.encode(text));
  const [, warmSecs] = await timed(() => fresh.encode(text));
  const [hfEnc, hfSecs] = await timed(() => hf.encode(text, null, { addSpecialTokens: false }));
  const docs = text.split("<|endoftext|>");
  const [, hfBatchSecs] = await timed(() => hf.encodeBatch(docs, { addSpecialTokens: false }));
  const same = JSON.stringify(cold) === JSON.stringify(hfEnc.getIds());
  line(
    `encode ${name}: ours, first pass (pre-token cache filling)`,
    `${(MB(bytes) / coldSecs).toFixed(1)} MB/s`,
  );
  line(`encode ${name}: ours, second pass (cache warm)`, `${(MB(bytes) / warmSecs).toFixed(1)} MB/s`);
  line(`encode ${name}: HF tokenizers encode(), one call`, `${(MB(bytes) / hfSecs).toFixed(1)} MB/s`);
  line(
    `encode ${name}: HF tokenizers encodeBatch(docs), 2 threads`,
    `${(MB(bytes) / hfBatchSecs).toFixed(1)} MB/s`,
  );
  line(
    `encode ${name}: ours (first pass) / HF speed`,
    `${(hfSecs / coldSecs).toFixed(1)}x encode(), ${(hfBatchSecs / coldSecs).toFixed(1)}x encodeBatch()`,
  );
  line(`encode ${name}: ids identical to HF (${cold.length} tokens)`, same ? "yes" : "NO");
}

// 3. builtin:stories generator.
const [genBytes, genSecs] = await timed(() => {
  let n = 0;
  for (const s of generateStories({ count: 20000, seed: 1 })) n += s.length;
  return n;
});
line(
  `builtin:stories, 20000 stories (${MB(genBytes).toFixed(1)} MB)`,
  `${(MB(genBytes) / genSecs).toFixed(1)} MB/s`,
);

// 4. prepareData on the tiny config (builtin:stories 4000, vocab 512): cold, then from the cache.
const dir = await Deno.makeTempDir({ prefix: "storyteller-bench-" });
const config = defaultConfig();
config.model.vocab_size = 512;
config.model.max_seq_len = 64;
config.data.builtin_stories = 4000;
config.data.cache_dir = dir;
const [cold, coldSecs] = await timed(() => prepareData(config));
const [, warmSecs] = await timed(() => prepareData(config));
line(
  `prepareData tiny (4000 stories, ${cold.stats.trainTokens} train tokens): cold`,
  `${coldSecs.toFixed(2)} s`,
);
line("prepareData tiny: cache hit", `${warmSecs.toFixed(3)} s`);
await Deno.remove(dir, { recursive: true });

// 5. Streaming: read a ~90 MB corpus (the train file 20 times) document by document; the heap must stay flat
// (run with --v8-flags=--max-old-space-size=48 to prove it: the read still completes).
const big = await Deno.makeTempFile({ suffix: ".txt" });
const trainText = await Deno.readFile(trainPath);
{
  using f = await Deno.open(big, { write: true });
  for (let i = 0; i < 20; i++) await f.write(trainText);
}
let peak = 0, docs = 0;
const [, readSecs] = await timed(async () => {
  for await (const _ of readCorpus(await resolveCorpus([big]))) {
    if (++docs % 5000 === 0) peak = Math.max(peak, Deno.memoryUsage().heapUsed);
  }
});
line(
  `read ${MB(trainText.length * 20).toFixed(0)} MB corpus (${docs} docs)`,
  `${(MB(trainText.length * 20) / readSecs).toFixed(0)} MB/s, peak heap ${MB(peak).toFixed(0)} MB`,
);
await Deno.remove(big);
