/**
 * Loading a model to serve: a `runs:/`, `models:/` or `file:` URI or a local directory → the directory (downloaded
 * through the tracking client when remote) → config, weights, tokenizer, its chat template and generation
 * defaults, all checked. Files come from the MLmodel's storyteller flavor when there is one, else the names
 * saveModelDir writes. Not the GPU side (engine.ts).
 */
import { dirname, join } from "node:path";
import { defaultConfig, type ModelConfig } from "../config/mod.ts";
import { parseTokenizerJson, type Tokenizer } from "../data/mod.ts";
import { describeError, FixableError, UsageError } from "../errors.ts";
import { buildLayout } from "../model/layout.ts";
import { readMLmodel } from "../model/mlmodel.ts";
import { readSafetensors } from "../model/safetensors.ts";
import { flatFrom, type GenerationConfig } from "../model/checkpoint.ts";
import { fileUriToPath, openTracking, TrackingError } from "../tracking/mod.ts";
import { type ChatFormat, chatTemplate, storyOpening } from "./chat.ts";

/**
 * A model that is not there or not a model (a wrong URI, path or file): the CLI prints it with its hint and exits
 * 2 before listening, as for any name the user typed that does not exist. A store that cannot be reached is a
 * runtime failure instead (exit 1).
 */
export class ModelLoadError extends UsageError {
  constructor(message: string, hint?: string) {
    super(message, { hint });
    this.name = "ModelLoadError";
  }
}

/** Tracking error codes that mean the URI names nothing (exit 2), not that the store failed (exit 1). */
const NOT_FOUND = new Set(["RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "BAD_REQUEST"]);

/** Everything serving needs, on the host. */
export interface LoadedModel {
  /** The URI or path the user gave. */
  source: string;
  /** The local directory the files came from. */
  dir: string;
  /** A short name for /v1/models and `model` fields: the registered name, the run id or the directory name. */
  name: string;
  model: ModelConfig;
  /** Flat parameters in layout order. */
  params: Float32Array;
  tokenizer: Tokenizer;
  generation: GenerationConfig;
  /** How a chat conversation becomes the prompt, and where that rule came from. */
  chat: { format: ChatFormat; source: "tokenizer_config.json" | "story opening (default)" };
}

/** The local directory a model URI names (runs:/ and models:/ resolved through the tracking store). */
export async function resolveModelDir(uri: string, trackingUri?: string): Promise<string> {
  if (/^(runs|models):/.test(uri)) {
    try {
      const client = await openTracking(trackingUri);
      return await client.downloadArtifacts(uri);
    } catch (err) {
      const message = `Cannot load the model ${uri}: ${describeError(err)}`;
      const hint = "check the URI and the tracking store (--tracking-uri or MLFLOW_TRACKING_URI)";
      if (err instanceof TrackingError && NOT_FOUND.has(err.code)) throw new ModelLoadError(message, hint);
      if (err instanceof UsageError) throw new ModelLoadError(message, err.hint ?? hint);
      throw new FixableError(message, hint, { cause: err });
    }
  }
  const dir = /^file:/.test(uri) ? fileUriToPath(uri) : uri;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new ModelLoadError(
      `Cannot load the model ${uri}: no such directory`,
      "pass a model directory (checkpoints/<run>/model), runs:/<run_id>/model or models:/<name>/<version>",
    );
  }
  if (!info.isDirectory) {
    throw new ModelLoadError(`Cannot load the model ${uri}: it is a file, not a model directory`);
  }
  return dir;
}

/** A short display name for the model. */
function nameOf(uri: string, dir: string): string {
  const m = /^models:\/([^/@]+)/.exec(uri) ?? /^runs:\/+([^/]+)/.exec(uri);
  return m ? m[1] : dir.replace(/\/+$/, "").split("/").pop() || "model";
}

/** The hint for a directory without the model's files: the `model` folder below it when that is the model. */
async function missingHint(path: string, source: string): Promise<string | undefined> {
  const below = join(dirname(path), "model", "config.json");
  if (!(await Deno.stat(below).catch(() => null))?.isFile) return undefined;
  const fixed = /^runs:/.test(source) ? `${source.replace(/\/+$/, "")}/model` : join(dirname(path), "model");
  return `the model is in its 'model' folder: use -m ${fixed}`;
}

async function readJson(path: string, what: string, source: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new ModelLoadError(
      `Cannot load the model ${source}: ${what} (${path}) is missing`,
      await missingHint(path, source),
    );
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch { /* reported below */ }
  throw new ModelLoadError(`Cannot load the model ${source}: ${path} is not a JSON object`);
}

/** The model config from config.json: the defaults' keys with the file's values, types checked. */
function modelConfigOf(raw: Record<string, unknown>, source: string): ModelConfig {
  const base = defaultConfig().model;
  const out = { ...base, moe: { ...base.moe } } as unknown as Record<string, unknown>;
  for (const [key, def] of Object.entries(base)) {
    if (!(key in raw)) {
      if (def === null || key === "moe") continue; // optional
      throw new ModelLoadError(`Cannot load the model ${source}: config.json lacks '${key}'`);
    }
    const v = raw[key];
    const ok = key === "moe"
      ? v !== null && typeof v === "object"
      : def === null
      ? v === null || typeof v === "number"
      : typeof v === typeof def;
    if (!ok) {
      throw new ModelLoadError(
        `Cannot load the model ${source}: config.json '${key}' is ${JSON.stringify(v)}`,
      );
    }
    out[key] = key === "moe" ? { ...base.moe, ...(v as object) } : v;
  }
  return out as unknown as ModelConfig;
}

/** Reads and checks a model for serving. */
export async function loadModel(uri: string, options: { trackingUri?: string } = {}): Promise<LoadedModel> {
  const dir = await resolveModelDir(uri, options.trackingUri);
  let files = {
    weights: join(dir, "model.safetensors"),
    config: join(dir, "config.json"),
    tokenizer: join(dir, "tokenizer.json"),
    generation_config: join(dir, "generation_config.json"),
  };
  try {
    await Deno.stat(join(dir, "MLmodel"));
    try {
      files = (await readMLmodel(dir)).files!;
    } catch (err) {
      throw new ModelLoadError(describeError(err));
    }
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
  }
  const model = modelConfigOf(await readJson(files.config, "config.json", uri), uri);
  const gen = await readJson(files.generation_config, "generation_config.json", uri);
  const num = (k: string, d: number) => (typeof gen[k] === "number" ? gen[k] as number : d);
  const generation: GenerationConfig = {
    max_new_tokens: num("max_new_tokens", Math.min(256, model.max_seq_len)),
    temperature: num("temperature", 0.8),
    top_k: num("top_k", 50),
    top_p: num("top_p", 0.95),
    eos_token_id: num("eos_token_id", -1),
    repetition_penalty: num("repetition_penalty", 1),
  };
  if (!(generation.repetition_penalty! > 0 && generation.repetition_penalty! <= 10)) {
    throw new ModelLoadError(
      `Cannot load the model ${uri}: generation_config.json has repetition_penalty ${generation.repetition_penalty}, ` +
        "outside (0, 10]",
    );
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = parseTokenizerJson(await Deno.readTextFile(files.tokenizer), files.tokenizer);
  } catch (err) {
    throw new ModelLoadError(`Cannot load the model ${uri}: ${describeError(err)}`);
  }
  if (tokenizer.vocabSize > model.vocab_size) {
    throw new ModelLoadError(
      `Cannot load the model ${uri}: the tokenizer has ${tokenizer.vocabSize} ids, the model ${model.vocab_size}`,
    );
  }
  const chat = await chatOf(dirname(files.tokenizer), uri);
  let params: Float32Array;
  try {
    const st = await readSafetensors(files.weights);
    params = flatFrom(buildLayout(model), st.tensors, files.weights);
  } catch (err) {
    throw new ModelLoadError(`Cannot load the model ${uri}: ${describeError(err)}`);
  }
  return { source: uri, dir, name: nameOf(uri, dir), model, params, tokenizer, generation, chat };
}

/**
 * The chat rule of the model whose tokenizer is in `dir`: tokenizer_config.json's `chat_template` (a string, or
 * Hugging Face's list of named templates: the one named "default", else the first) with the config's special
 * tokens, else the story-opening default (chat.ts).
 */
async function chatOf(dir: string, uri: string): Promise<LoadedModel["chat"]> {
  const path = join(dir, "tokenizer_config.json");
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { format: storyOpening, source: "story opening (default)" };
    }
    throw new ModelLoadError(`Cannot load the model ${uri}: ${path} is not JSON (${describeError(err)})`);
  }
  let source = config?.chat_template;
  if (Array.isArray(source)) {
    const named = source as { name?: unknown; template?: unknown }[];
    source = (named.find((t) => t?.name === "default") ?? named[0])?.template;
  }
  if (source == null) return { format: storyOpening, source: "story opening (default)" };
  if (typeof source !== "string") {
    throw new ModelLoadError(`Cannot load the model ${uri}: ${path} has a chat_template that is not text`);
  }
  const tokens: Record<string, string> = {};
  for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const v = config[key];
    const text = typeof v === "string" ? v : (v as { content?: unknown })?.content;
    if (typeof text === "string") tokens[key] = text;
  }
  try {
    return { format: chatTemplate(source, tokens), source: "tokenizer_config.json" };
  } catch (err) {
    throw new ModelLoadError(
      `Cannot load the model ${uri}: ${path}'s chat_template does not parse: ${describeError(err)}`,
    );
  }
}
