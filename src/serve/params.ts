/**
 * Request validation for the model server: generation options (shared by `/invocations` params,
 * `/v1/completions` and `/v1/chat/completions`), the prompts of MLflow's four JSON input shapes and OpenAI's
 * prompts (text or token ids). Every problem is a BadRequest naming the field. Not the routes themselves (app.ts)
 * and not chat messages (chat.ts).
 */
import { LOGPROB_TOP_MAX, MAX_LOGIT_BIAS } from "../kernels/sample.ts";
import type { LogitBias } from "../kernels/contracts.ts";
import type { GenerateOptions } from "./service.ts";

/** A 400 answer: the message names the field that is wrong. */
export class BadRequest extends Error {
  /** The field the message names ("Invalid value for 'x'…", "Unknown field 'x'…"): OpenAI's `param`, else null. */
  readonly param: string | null;
  constructor(message: string) {
    super(message);
    this.name = "BadRequest";
    this.param =
      /^(?:Invalid value for|Invalid key in|Unsupported value for|Unknown field) '([^']+)'/.exec(message)
        ?.[1] ?? null;
  }
}

/** The largest repetition_penalty accepted (Hugging Face models use about 1.0–1.5). */
export const MAX_REPETITION_PENALTY = 10;

/** The most top alternatives `logprobs` may ask for (OpenAI's legacy completions limit; the sampler's record size). */
export const MAX_LOGPROBS = LOGPROB_TOP_MAX;

/** The most tokens one request may ask for (above any context storyteller trains). */
export const MAX_TOKENS_LIMIT = 1 << 20;

/** What a request is checked against: the served model and the server's limits. */
export interface RequestLimits {
  /** The model's vocabulary: a logit_bias names ids 0 to vocabSize − 1. */
  vocabSize: number;
  /** Prompts × best_of (n without it) one completions request may ask for. */
  maxChoices: number;
  /** The model's default temperature (generation_config.json), for a request that sets none. */
  temperature: number;
}

/** A token id as OpenAI's logit_bias keys spell it: a decimal integer without sign, spaces or leading zeros. */
const TOKEN_KEY = /^(0|[1-9][0-9]*)$/;

/** Whether `v` is a JSON object (not null, not a list). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** `v` when it is a finite number that passes `check`, else a BadRequest naming `field` and what was expected. */
export function num(field: string, v: unknown, check: (x: number) => boolean, expect: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || !check(v)) {
    throw new BadRequest(`Invalid value for '${field}': ${JSON.stringify(v)} (expected ${expect})`);
  }
  return v;
}

/**
 * OpenAI's `logit_bias` ({"50256": -100}) as (id, bias) pairs, zero biases dropped; every key a token id below V,
 * every value a number from -100 to 100, at most MAX_LOGIT_BIAS entries.
 */
function logitBias(field: string, v: unknown, V: number): LogitBias {
  if (!isObject(v)) {
    throw new BadRequest(
      `Invalid value for '${field}': expected an object mapping token ids (strings such as "50256") to biases ` +
        `from -100 to 100, got ${JSON.stringify(v)?.slice(0, 80)}`,
    );
  }
  const entries = Object.entries(v);
  if (entries.length > MAX_LOGIT_BIAS) {
    throw new BadRequest(
      `Invalid value for '${field}': ${entries.length} entries, at most ${MAX_LOGIT_BIAS} are allowed`,
    );
  }
  const out: [number, number][] = [];
  for (const [key, bias] of entries) {
    if (!TOKEN_KEY.test(key)) {
      throw new BadRequest(
        `Invalid key in '${field}': ${JSON.stringify(key)} is not a token id (expected a decimal integer ` +
          `string such as "50256")`,
      );
    }
    const id = Number(key);
    if (id >= V) {
      throw new BadRequest(
        `Invalid key in '${field}': token id ${key} is outside the model's vocabulary (ids 0 to ${V - 1})`,
      );
    }
    if (num(`${field}["${key}"]`, bias, (x) => Math.abs(x) <= 100, "a number from -100 to 100") !== 0) {
      out.push([id, bias as number]);
    }
  }
  return out;
}

/** Reads the generation options present in `src` (absent or null ones stay undefined). */
export function generateOptions(
  src: Record<string, unknown>,
  vocabSize: number,
  prefix = "",
): GenerateOptions {
  const out: GenerateOptions = {};
  const has = (k: string) => src[k] !== undefined && src[k] !== null;
  const f = (k: string) => prefix + k;
  for (const k of ["max_tokens", "max_new_tokens"]) {
    if (has(k)) {
      out.maxTokens = num(
        f(k),
        src[k],
        (x) => Number.isInteger(x) && x >= 0 && x <= MAX_TOKENS_LIMIT,
        `an integer from 0 to ${MAX_TOKENS_LIMIT}; 0 with echo and logprobs scores the prompt`,
      );
    }
  }
  if (has("temperature")) {
    out.temperature = num(
      f("temperature"),
      src.temperature,
      (x) => x >= 0 && x <= 100,
      "a number from 0 to 100",
    );
  }
  if (has("top_p")) out.topP = num(f("top_p"), src.top_p, (x) => x > 0 && x <= 1, "a number in (0, 1]");
  if (has("top_k")) {
    out.topK = num(f("top_k"), src.top_k, (x) => Number.isInteger(x) && x >= 0, "an integer ≥ 0 (0 = off)");
  }
  if (has("seed")) {
    out.seed = num(
      f("seed"),
      src.seed,
      (x) => Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER,
      `an integer from -${Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER} (2^53 − 1; JSON numbers ` +
        `past it lose digits); the sampler uses its low 32 bits`,
    ) >>> 0;
  }
  if (has("repetition_penalty")) {
    out.repetitionPenalty = num(
      f("repetition_penalty"),
      src.repetition_penalty,
      (x) => x > 0 && x <= MAX_REPETITION_PENALTY,
      `a number in (0, ${MAX_REPETITION_PENALTY}]; 1 = off`,
    );
  }
  for (
    const [k, key] of [["presence_penalty", "presencePenalty"], [
      "frequency_penalty",
      "frequencyPenalty",
    ]] as const
  ) {
    if (has(k)) out[key] = num(f(k), src[k], (x) => x >= -2 && x <= 2, "a number from -2 to 2; 0 = off");
  }
  if (has("stop")) {
    const s = src.stop;
    const list = typeof s === "string" ? [s] : s;
    if (
      !Array.isArray(list) || list.length > 16 || !list.every((x) => typeof x === "string" && x.length <= 256)
    ) {
      throw new BadRequest(
        `Invalid value for '${f("stop")}': expected a string or a list of up to 16 strings`,
      );
    }
    out.stop = list as string[];
  }
  if (has("logit_bias")) {
    const bias = logitBias(f("logit_bias"), src.logit_bias, vocabSize);
    if (bias.length > 0) out.logitBias = bias;
  }
  return out;
}

/** Rejects keys of `obj` outside `known`, naming the first. */
export function rejectUnknown(obj: Record<string, unknown>, known: readonly string[], where: string): void {
  const extra = Object.keys(obj).filter((k) => !known.includes(k));
  if (extra.length > 0) {
    throw new BadRequest(
      `Unknown field${extra.length > 1 ? "s" : ""} ${
        extra.map((k) => `'${k}'`).join(", ")
      } in ${where} (accepted: ${known.join(", ")})`,
    );
  }
}

const FORMATS = ["dataframe_split", "dataframe_records", "instances", "inputs"] as const;
const GEN_PARAMS = [
  "max_tokens",
  "max_new_tokens",
  "temperature",
  "top_p",
  "top_k",
  "seed",
  "stop",
  "repetition_penalty",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
] as const;

/** The prompt of one row: a string, or the `prompt` (or only) column of a record. */
function promptOf(row: unknown, where: string): string {
  if (typeof row === "string") return row;
  if (Array.isArray(row) && row.length === 1 && typeof row[0] === "string") return row[0];
  if (isObject(row)) {
    const keys = Object.keys(row);
    const key = "prompt" in row ? "prompt" : keys.length === 1 ? keys[0] : undefined;
    if (key !== undefined && typeof row[key] === "string") return row[key] as string;
  }
  throw new BadRequest(
    `Invalid input in ${where}: each row needs a string 'prompt' column, got ${
      JSON.stringify(row)?.slice(0, 80)
    }`,
  );
}

/** Prompts and options of an MLflow scoring-protocol body (`/invocations`). */
export function parseInvocation(
  body: unknown,
  limits: Pick<RequestLimits, "vocabSize">,
): { prompts: string[]; options: GenerateOptions } {
  if (!isObject(body)) {
    throw new BadRequest(
      `Invalid input. The input must be a JSON dictionary with exactly one of the input fields ${
        JSON.stringify(FORMATS)
      }. ` +
        `Received ${Array.isArray(body) ? "a list" : typeof body}.`,
    );
  }
  const present = FORMATS.filter((k) => k in body);
  if (present.length !== 1) {
    throw new BadRequest(
      `Invalid input. The input must be a JSON dictionary with exactly one of the input fields ${
        JSON.stringify(FORMATS)
      }. ` +
        `Received dictionary with input fields: ${JSON.stringify(Object.keys(body))}.`,
    );
  }
  rejectUnknown(body, [...FORMATS, "params"], "the request body");
  const params = body.params ?? {};
  if (!isObject(params)) throw new BadRequest(`Invalid value for 'params': expected a JSON object`);
  rejectUnknown(params, GEN_PARAMS, "'params'");
  const options = generateOptions(params, limits.vocabSize, "params.");
  const format = present[0];
  const data = body[format];
  let prompts: string[];
  if (format === "dataframe_split") {
    if (!isObject(data) || !Array.isArray(data.data)) {
      throw new BadRequest(
        `Invalid value for 'dataframe_split': expected {"columns": [...], "data": [[...], ...]}`,
      );
    }
    const columns = Array.isArray(data.columns) ? data.columns : ["prompt"];
    const col = columns.indexOf("prompt") >= 0 ? columns.indexOf("prompt") : columns.length === 1 ? 0 : -1;
    if (col < 0) {
      throw new BadRequest(
        `Invalid value for 'dataframe_split.columns': no 'prompt' column in ${JSON.stringify(columns)}`,
      );
    }
    prompts = data.data.map((row, i) => {
      const v = Array.isArray(row) ? row[col] : row;
      if (typeof v !== "string") {
        throw new BadRequest(`Invalid value for 'dataframe_split.data[${i}]': the prompt must be a string`);
      }
      return v;
    });
  } else if (format === "dataframe_records" || format === "instances") {
    if (!Array.isArray(data)) throw new BadRequest(`Invalid value for '${format}': expected a list of rows`);
    prompts = data.map((row, i) => promptOf(row, `'${format}[${i}]'`));
  } else {
    if (typeof data === "string") prompts = [data];
    else if (Array.isArray(data)) prompts = data.map((row, i) => promptOf(row, `'inputs[${i}]'`));
    else if (isObject(data)) {
      const col = data.prompt ?? (Object.keys(data).length === 1 ? Object.values(data)[0] : undefined);
      const list = typeof col === "string" ? [col] : col;
      if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
        throw new BadRequest(
          `Invalid value for 'inputs': expected {"prompt": [strings]} or a list of strings`,
        );
      }
      prompts = list as string[];
    } else throw new BadRequest(`Invalid value for 'inputs': expected a string, a list or {"prompt": [...]}`);
  }
  if (prompts.length === 0) throw new BadRequest(`Invalid input: '${format}' holds no rows`);
  return { prompts, options };
}

/** One prompt as a request gives it: text, or token ids (vLLM's and OpenAI's `"prompt": [79, 110]`). */
export type Prompt = string | number[];

/**
 * OpenAI's `prompt`: a string, a list of strings, a list of token ids (one prompt) or a list of such lists; each id
 * an integer below `vocabSize`.
 */
export function parsePrompts(p: unknown, vocabSize: number): Prompt[] {
  const expected =
    `expected a string, a non-empty list of strings, a list of token ids or a list of token id lists`;
  const isId = (x: unknown) => typeof x === "number" && Number.isInteger(x);
  const ids = (list: unknown[], field: string): number[] => {
    if (list.length === 0) throw new BadRequest(`Invalid value for '${field}': an empty list of token ids`);
    const bad = list.findIndex((x) => !isId(x) || (x as number) < 0 || (x as number) >= vocabSize);
    if (bad >= 0) {
      throw new BadRequest(
        `Invalid value for '${field}[${bad}]': ${
          JSON.stringify(list[bad])?.slice(0, 40)
        } is not a token id ` +
          `(integers 0 to ${vocabSize - 1} in this model's vocabulary)`,
      );
    }
    return list as number[];
  };
  if (typeof p === "string") return [p];
  if (!Array.isArray(p) || p.length === 0) throw new BadRequest(`Invalid value for 'prompt': ${expected}`);
  if (p.every((x) => typeof x === "string")) return p as string[];
  if (p.every((x) => typeof x === "number")) return [ids(p, "prompt")];
  if (p.every((x) => Array.isArray(x))) return p.map((x, i) => ids(x as unknown[], `prompt[${i}]`));
  throw new BadRequest(`Invalid value for 'prompt': ${expected}, not a mix`);
}

/** A validated `/v1/completions` body. */
export interface CompletionRequest {
  prompts: Prompt[];
  options: GenerateOptions;
  n: number;
  /** Candidates generated per prompt (≥ n); the n with the highest mean logprob are returned. */
  bestOf: number;
  stream: boolean;
  includeUsage: boolean;
}

const COMPLETION_FIELDS = [
  "model",
  "prompt",
  "max_tokens",
  "temperature",
  "top_p",
  "top_k",
  "repetition_penalty",
  "stop",
  "seed",
  "n",
  "stream",
  "stream_options",
  "user",
  "echo",
  "logprobs",
  "best_of",
  "frequency_penalty",
  "presence_penalty",
  "suffix",
  "logit_bias",
] as const;

/** `n`, `stream`, `stream_options` and `model` of an OpenAI body (completions and chat), checked. */
export function choiceFields(
  body: Record<string, unknown>,
  prompts: number,
  maxChoices: number,
): { n: number; stream: boolean; includeUsage: boolean } {
  const n = body.n == null
    ? 1
    : num("n", body.n, (x) =>
      Number.isInteger(x) && x >= 1 && x <= maxChoices, `an integer from 1 to ${maxChoices}`);
  if (prompts * n > maxChoices) {
    throw new BadRequest(
      `Invalid request: ${prompts} prompts × n=${n} exceed ${maxChoices} completions per request`,
    );
  }
  if (body.stream != null && typeof body.stream !== "boolean") {
    throw new BadRequest(`Invalid value for 'stream': expected a boolean`);
  }
  const so = body.stream_options;
  if (so != null && !(isObject(so) && (so.include_usage == null || typeof so.include_usage === "boolean"))) {
    throw new BadRequest(`Invalid value for 'stream_options': expected {"include_usage": boolean}`);
  }
  if (body.model != null && typeof body.model !== "string") {
    throw new BadRequest(`Invalid value for 'model': expected a string`);
  }
  return { n, stream: body.stream === true, includeUsage: isObject(so) && so.include_usage === true };
}

/** Parses an OpenAI-style completions body; fields we cannot honour with a non-default value are refused. */
export function parseCompletion(body: unknown, limits: RequestLimits): CompletionRequest {
  const maxChoices = limits.maxChoices;
  if (!isObject(body)) throw new BadRequest("Invalid request: the body must be a JSON object");
  rejectUnknown(body, COMPLETION_FIELDS, "the request body");
  const prompts = parsePrompts(body.prompt, limits.vocabSize);
  const options = generateOptions(body, limits.vocabSize);
  const { n, stream, includeUsage } = choiceFields(body, prompts.length, maxChoices);
  if (body.logprobs != null) {
    options.logprobs = num(
      "logprobs",
      body.logprobs,
      (x) => Number.isInteger(x) && x >= 0 && x <= MAX_LOGPROBS,
      `an integer from 0 to ${MAX_LOGPROBS}, or null`,
    );
  }
  if (body.echo != null && typeof body.echo !== "boolean") {
    throw new BadRequest(`Invalid value for 'echo': expected a boolean`);
  }
  if (body.echo === true) options.echo = true;
  if (body.suffix != null) {
    throw new BadRequest(`Unsupported value for 'suffix': this server does not implement it`);
  }
  const bestOf = body.best_of == null
    ? n
    : num("best_of", body.best_of, (x) =>
      Number.isInteger(x) && x >= n && x <= maxChoices, `an integer from n (${n}) to ${maxChoices}`);
  if (prompts.length * bestOf > maxChoices) {
    throw new BadRequest(
      `Invalid request: ${prompts.length} prompts × best_of=${bestOf} exceed ${maxChoices} completions per request`,
    );
  }
  if (bestOf > n && stream) {
    throw new BadRequest(
      `Invalid value for 'best_of': ${bestOf} candidates for n=${n} cannot be streamed (the best are known only ` +
        `at the end); set 'stream' to false or 'best_of' to n`,
    );
  }
  if (bestOf > n && (options.temperature ?? limits.temperature) <= 0) {
    throw new BadRequest(
      `Invalid value for 'best_of': with temperature 0 (greedy) every candidate is the same completion; set ` +
        `'best_of' to n (${n}) or a temperature above 0`,
    );
  }
  return {
    prompts,
    options,
    n,
    bestOf,
    stream,
    includeUsage,
  };
}
