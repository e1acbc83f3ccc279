/**
 * `prepareData`: from a resolved config to a tokenizer and train/validation token arrays, through the cache.
 * Cache entries are keyed by a hash of the sources (path, size, mtime; generator parameters for builtin:stories),
 * the split and the tokenizer, so any change rebuilds them; files are renamed into place only when complete.
 * The same identities give each split its dataset digest (`DataStats.datasets`, logged as MLflow dataset inputs).
 */
import type { Config } from "../config/mod.ts";
import { CorpusProgress } from "./_progress.ts";
import { UsageError } from "../errors.ts";
import { PreTokenCounts, trainBpe } from "./bpe_train.ts";
import {
  type CorpusOptions,
  type CorpusSource,
  describeSources,
  readCorpus,
  resolveCorpus,
} from "./corpus.ts";
import { BatchSampler, type BatchSamplerState, EvalSampler } from "./sampler.ts";
import { STORIES_VERSION } from "./stories.ts";
import type { Tokenizer } from "./tokenizer.ts";
import { loadTokenizer, parseTokenizerJson, saveTokenizer, tokenizerToJson } from "./tokenizer_json.ts";
import {
  readTokenFile,
  sha256Hex,
  tempPathFor,
  type TokenArray,
  type TokenDtype,
  tokenDtype,
  TokenFileWriter,
} from "./token_cache.ts";

/** Counts describing a prepared dataset (logged as run params by the trainer). */
export interface DataStats {
  trainTokens: number;
  valTokens: number;
  trainDocs: number;
  valDocs: number;
  /** Human-readable train and validation sources. */
  sources: string;
  valSources: string;
  /** Where the tokenizer came from: a path, or the cache file it was trained into. */
  tokenizerSource: string;
  /** Whether the token files were read from the cache rather than built. */
  cacheHit: boolean;
  dtype: TokenDtype;
  /** The training text and, when there is any, the validation text, as the run tracker records them. */
  datasets: { training: DataSplit; validation: DataSplit | null };
}

/** One split of the prepared data, identified without reading its text again. */
export interface DataSplit {
  /**
   * The config's specs as written (`builtin:stories`, `data/*.txt`), comma-separated; validation held out of the
   * training text is `<train specs> (val_fraction <f>)`.
   */
  name: string;
  /**
   * 8 hex digits of a sha256 over what decides this split's tokens: the sources' identities (real path, size,
   * mtime; generator, story count, seed and version for builtin:stories), the hold-out fraction, the format and
   * text field, the tokenizer (sha256 of its JSON) and the split's role. The token cache's key hashes the same
   * identities, so the digest changes exactly when the cache would be rebuilt.
   */
  digest: string;
  /** The sources read, with real paths (files are not read again to describe them). */
  sources: SourceIdentity[];
  /** The fraction of documents held out for validation (every 1/f-th); 0 when data.val is used. */
  holdOut: number;
  docs: number;
  tokens: number;
}

/** A corpus source as the cache identifies it: a file by its real path, the generator with its version. */
export type SourceIdentity =
  | (Extract<CorpusSource, { kind: "file" }>)
  | (Extract<CorpusSource, { kind: "builtin" }> & { generator: number });

/** What the trainer gets from `prepareData`. */
export interface PreparedData {
  tokenizer: Tokenizer;
  /** Training tokens: documents in order, each followed by `<|endoftext|>`. */
  train: TokenArray;
  /** Validation tokens (empty when data.val is empty and data.val_fraction is 0). */
  val: TokenArray;
  stats: DataStats;
  /** The cached token files (flat little-endian, `stats.dtype`), e.g. for torch_reference.py --train-tokens. */
  files: { train: string; val: string; tokenizer: string };
  /** A seeded (B, T+1) training batch stream; pass a checkpoint's `state` to resume it. */
  trainSampler(
    opts: { batchSize: number; seqLen: number; seed: number; state?: BatchSamplerState },
  ): BatchSampler;
  /** Fixed validation batches. */
  evalSampler(opts: { batchSize: number; seqLen: number }): EvalSampler;
}

export interface PrepareOptions {
  /** Progress lines ("tokenizing ...", "cache hit ..."); silent by default. */
  log?: (line: string) => void;
  /** Window length T the batches will use (default model.max_seq_len); shorter corpora are refused. */
  seqLen?: number;
}

/** Cache format version: bump when token files or their keys change meaning. */
const CACHE_VERSION = 1;

/**
 * Resolves `config.data` into a tokenizer and token arrays: loads data.tokenizer or trains one on the training text
 * (model.vocab_size ids), tokenizes train and validation text, and caches both under data.cache_dir.
 * Throws UsageError (exit 2) for missing paths, empty or undecodable corpora, bad jsonl lines, a tokenizer bigger
 * than model.vocab_size, and corpora shorter than one (T+1)-token window.
 */
export async function prepareData(config: Config, opts: PrepareOptions = {}): Promise<PreparedData> {
  const data = config.data, log = opts.log ?? (() => {});
  const seqLen = opts.seqLen ?? config.model.max_seq_len;
  const corpusOpts: CorpusOptions = {
    format: data.format,
    textField: data.text_field,
    builtinStories: data.builtin_stories,
    builtinSeed: data.builtin_seed,
  };
  const trainSources = await resolveCorpus(data.train, corpusOpts);
  const valSources = data.val.length > 0 ? await resolveCorpus(data.val, corpusOpts) : null;
  const holdOut = valSources === null ? data.val_fraction : 0;
  const split = {
    train: await sourceIds(trainSources),
    val: valSources && await sourceIds(valSources),
    holdOut,
  };
  await Deno.mkdir(data.cache_dir, { recursive: true });

  const { tokenizer, tokenizerSource } = await obtainTokenizer(config, trainSources, corpusOpts, split, log);
  if (tokenizer.vocabSize > config.model.vocab_size) {
    throw new UsageError(
      `Cannot use tokenizer ${tokenizerSource}: it has ${tokenizer.vocabSize} ids but model.vocab_size is ${config.model.vocab_size}`,
      { hint: `set model.vocab_size to at least ${tokenizer.vocabSize}` },
    );
  }
  const tokJson = tokenizerToJson(tokenizer);
  const tokenizerHash = await sha256Hex(tokJson);
  const key = (await sha256Hex(JSON.stringify({
    v: CACHE_VERSION,
    split,
    format: data.format,
    textField: data.text_field,
    tokenizer: tokenizerHash,
  }))).slice(0, 20);
  const dir = `${data.cache_dir}/data-${key}`;
  const dtype = tokenDtype(tokenizer.vocabSize);
  const files = { train: `${dir}/train.bin`, val: `${dir}/val.bin`, tokenizer: `${dir}/tokenizer.json` };
  let meta = await readMeta(`${dir}/meta.json`);
  const cacheHit = meta !== null;
  if (meta === null) {
    log(
      `tokenizing ${describeSources(trainSources)}${valSources ? ` and ${describeSources(valSources)}` : ""}`,
    );
    await Deno.mkdir(dir, { recursive: true });
    const progress = new CorpusProgress("tokenizing", [...trainSources, ...valSources ?? []], log);
    meta = await buildTokenFiles(
      tokenizer,
      trainSources,
      valSources,
      holdOut,
      corpusOpts,
      files,
      dtype,
      progress,
    );
    await Deno.writeTextFile(files.tokenizer, tokJson);
    const tmp = tempPathFor(`${dir}/meta.json`);
    await Deno.writeTextFile(tmp, JSON.stringify(meta, null, 2) + "\n");
    await Deno.rename(tmp, `${dir}/meta.json`);
  } else log(`token cache hit: ${dir}`);
  const train = await readTokenFile(files.train, dtype);
  const val = await readTokenFile(files.val, dtype);

  const window = `one window of ${seqLen + 1} tokens (model.max_seq_len + 1)`;
  if (train.length < seqLen + 1) {
    throw new UsageError(
      `Cannot train on ${
        describeSources(trainSources)
      }: it holds ${train.length} tokens, fewer than ${window}`,
      { hint: "add more text to data.train, or lower model.max_seq_len" },
    );
  }
  if ((valSources !== null || holdOut > 0) && val.length < seqLen + 1) {
    throw new UsageError(
      `Cannot validate: the validation text holds ${val.length} tokens, fewer than ${window}`,
      {
        hint: valSources ? "add more text to data.val" : "raise data.val_fraction, or set data.val",
      },
    );
  }
  const digest = async (role: string, sources: SourceIdentity[], holdOut: number) =>
    (await sha256Hex(JSON.stringify({
      v: CACHE_VERSION,
      role,
      sources,
      holdOut,
      format: data.format,
      textField: data.text_field,
      tokenizer: tokenizerHash,
    }))).slice(0, 8);
  const trainName = data.train.join(", ");
  const datasets: DataStats["datasets"] = {
    training: {
      name: trainName,
      digest: await digest("training", split.train, holdOut),
      sources: split.train,
      holdOut,
      docs: meta.trainDocs,
      tokens: train.length,
    },
    validation: null,
  };
  if (split.val || holdOut > 0) {
    datasets.validation = {
      name: split.val ? data.val.join(", ") : `${trainName} (val_fraction ${holdOut})`,
      digest: await digest("validation", split.val ?? split.train, split.val ? 0 : holdOut),
      sources: split.val ?? split.train,
      holdOut: split.val ? 0 : holdOut,
      docs: meta.valDocs,
      tokens: val.length,
    };
  }
  return {
    tokenizer,
    train,
    val,
    files,
    stats: {
      trainTokens: train.length,
      valTokens: val.length,
      trainDocs: meta.trainDocs,
      valDocs: meta.valDocs,
      sources: describeSources(trainSources),
      valSources: valSources ? describeSources(valSources) : `${holdOut} of train`,
      tokenizerSource,
      cacheHit,
      dtype,
      datasets,
    },
    trainSampler: (o) => new BatchSampler(train, o),
    evalSampler: (o) => new EvalSampler(val, o),
  };
}

/** Whether document i goes to validation when holding out fraction f: every (1/f)-th document, evenly spread. */
export function isHeldOut(i: number, f: number): boolean {
  return f > 0 && Math.floor((i + 1) * f) > Math.floor(i * f);
}

interface Meta {
  trainDocs: number;
  valDocs: number;
  trainTokens: number;
  valTokens: number;
}

async function readMeta(path: string): Promise<Meta | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as Meta;
  } catch {
    return null;
  }
}

/** The sources as the cache keys them (the key order is part of the key: keep it). */
async function sourceIds(sources: CorpusSource[]): Promise<SourceIdentity[]> {
  return await Promise.all(
    sources.map(async (s): Promise<SourceIdentity> =>
      s.kind === "builtin"
        ? { ...s, generator: STORIES_VERSION }
        : { ...s, path: await Deno.realPath(s.path) }
    ),
  );
}

async function obtainTokenizer(
  config: Config,
  sources: CorpusSource[],
  corpusOpts: CorpusOptions,
  split: { train: unknown[]; holdOut: number },
  log: (line: string) => void,
): Promise<{ tokenizer: Tokenizer; tokenizerSource: string }> {
  const data = config.data;
  if (data.tokenizer !== null) {
    return { tokenizer: await loadTokenizer(data.tokenizer), tokenizerSource: data.tokenizer };
  }
  const key = (await sha256Hex(JSON.stringify({
    v: CACHE_VERSION,
    train: split.train,
    holdOut: split.holdOut,
    format: data.format,
    textField: data.text_field,
    vocabSize: config.model.vocab_size,
    chars: data.tokenizer_train_chars,
  }))).slice(0, 20);
  const path = `${data.cache_dir}/tokenizer-${key}.json`;
  try {
    const tokenizer = parseTokenizerJson(await Deno.readTextFile(path), path);
    log(`tokenizer cache hit: ${path}`);
    return { tokenizer, tokenizerSource: path };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  log(`training a tokenizer of up to ${config.model.vocab_size} ids on ${describeSources(sources)}`);
  const pre = new PreTokenCounts();
  const progress = new CorpusProgress("tokenizer: reading", sources, log, data.tokenizer_train_chars);
  let i = 0;
  for await (const doc of readCorpus(sources, corpusOpts)) {
    if (isHeldOut(i++, split.holdOut)) continue;
    pre.add(doc);
    progress.add(doc);
    if (pre.chars >= data.tokenizer_train_chars) break;
  }
  const tokenizer = trainBpe(pre, { vocabSize: config.model.vocab_size });
  if (tokenizer.vocabSize < config.model.vocab_size) {
    // BPE stops when no adjacent pair is left to merge: a small or repetitive corpus has few distinct words.
    log(
      `tokenizer: ${tokenizer.vocabSize} ids of the ${config.model.vocab_size} asked — the corpus ran out of pairs ` +
        `to merge (${pre.counts.size.toLocaleString("en-US")} distinct words); ids ${tokenizer.vocabSize}–` +
        `${config.model.vocab_size - 1} of the model stay unused (a larger corpus fills them, a smaller ` +
        `model.vocab_size saves their parameters)`,
    );
  }
  await saveTokenizer(tokenizer, path);
  return { tokenizer, tokenizerSource: path };
}

async function buildTokenFiles(
  tok: Tokenizer,
  trainSources: CorpusSource[],
  valSources: CorpusSource[] | null,
  holdOut: number,
  corpusOpts: CorpusOptions,
  files: { train: string; val: string },
  dtype: TokenDtype,
  progress: CorpusProgress,
): Promise<Meta> {
  const train = await TokenFileWriter.create(files.train, dtype);
  const val = await TokenFileWriter.create(files.val, dtype);
  const meta: Meta = { trainDocs: 0, valDocs: 0, trainTokens: 0, valTokens: 0 };
  const ids: number[] = [];
  const tokens = () => `${(train.count + val.count).toLocaleString("en-US")} tokens`;
  const encodeDoc = (doc: string) => {
    ids.length = 0;
    tok.encodeTo(doc, ids);
    if (tok.eotId !== null) ids.push(tok.eotId);
    progress.add(doc, tokens);
    return ids;
  };
  try {
    let i = 0;
    for await (const doc of readCorpus(trainSources, corpusOpts)) {
      const toVal = isHeldOut(i++, holdOut);
      await (toVal ? val : train).push(encodeDoc(doc));
      if (toVal) meta.valDocs++;
      else meta.trainDocs++;
    }
    if (valSources !== null) {
      for await (const doc of readCorpus(valSources, corpusOpts)) {
        await val.push(encodeDoc(doc));
        meta.valDocs++;
      }
    }
    await train.commit();
    await val.commit();
  } catch (err) {
    await train.abort();
    await val.abort();
    throw err;
  }
  meta.trainTokens = train.count;
  meta.valTokens = val.count;
  return meta;
}
