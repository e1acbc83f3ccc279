/**
 * The model server's Hono app: MLflow's scoring protocol (`/ping`, `/health`, `/version`, `/invocations`), the
 * OpenAI-compatible API (`/v1/completions` and `/v1/chat/completions` with server-sent events, `/v1/models`) and
 * Prometheus `/metrics`, behind the same guard as the tracking server (the `/ping` and `/health` probes need no
 * credentials). Errors take MLflow's shape on MLflow's routes and OpenAI's on `/v1/*`. A client that goes away
 * cancels its generation. Not model loading or generation (service.ts), not the choices' streaming (choices.ts).
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { firstInvalidUtf8 } from "../data/mod.ts";
import { errorResponse, guard, type GuardOptions, renderError } from "../server/mod.ts";
import { VERSION } from "../version.ts";
import { chatShape, parseChat } from "./chat.ts";
import { answerChoices, cancelled, type ChoiceShape, CLIENT_CLOSED, knownError } from "./choices.ts";
import type { Metrics } from "./metrics.ts";
import { openAIErrorResponse, toOpenAIError } from "./openai_errors.ts";
import { BadRequest, parseCompletion, parseInvocation, type Prompt } from "./params.ts";
import type { Completion, EncodedPrompt, GenerateOptions, ModelService, TokenEntry } from "./service.ts";

/** How the app finds its model and guards itself. */
export interface ServeAppOptions {
  /** The service once the model is ready; null while loading (503s). */
  service: () => ModelService | null;
  metrics: Metrics;
  /** Name shown by /v1/models and in completion objects (--served-model-name). */
  modelName: string;
  /** Other `model` values a request may give (the first --served-model-name is `modelName`); any other is a 404. */
  modelAliases?: string[];
  guard: GuardOptions;
  /** Prompts × n per request (default 64). */
  maxChoices?: number;
}

const JSON_HEADERS = { "Content-Type": "application/json" };

/** The app's routes and their method: the metrics label of a request (anything else is "other") and the 405s. */
const ROUTES: Record<string, "GET" | "POST"> = {
  "/ping": "GET",
  "/health": "GET",
  "/version": "GET",
  "/metrics": "GET",
  "/invocations": "POST",
  "/v1/models": "GET",
  "/v1/completions": "POST",
  "/v1/chat/completions": "POST",
};

/** The metrics label of a request path: its route, `/v1/models/{id}`, or "other". */
function routeOf(path: string): string {
  if (Object.hasOwn(ROUTES, path)) return path;
  return path.startsWith("/v1/models/") ? "/v1/models/{id}" : "other";
}

/** Liveness probes, open without credentials (as vLLM and llama.cpp leave theirs) so orchestrators can call them. */
const PROBES = ["/ping", "/health"];

/** Minimal RFC 4180 CSV: a header row, then rows; quoted fields may hold commas, quotes and newlines. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') field += text[i++];
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") (row.push(field), field = "");
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows.filter((r) => r.length > 1 || r[0] !== "");
}

/** The MLflow body of a request: JSON or CSV (→ dataframe_split), with MLflow's 415 answers. */
async function invocationBody(c: Context): Promise<unknown> {
  const ct = c.req.header("Content-Type") ?? "";
  const [type, ...params] = ct.split(";").map((s) => s.trim());
  const unsupported = (msg: string) =>
    new HTTPException(415, {
      res: new Response(msg, { status: 415, headers: { "Content-Type": "text/plain; charset=utf-8" } }),
    });
  if (type.toLowerCase() === "application/json" || type.toLowerCase() === "text/csv") {
    for (const p of params.filter((x) => x)) {
      const [k, v = ""] = p.split("=").map((s) => s.trim().toLowerCase());
      if (k === "charset" && v.replace(/"/g, "") !== "utf-8") {
        throw unsupported("The scoring server only supports UTF-8");
      }
      if (k !== "charset") {
        throw unsupported(
          `Unrecognized content type parameters: ${k}. IMPORTANT: The MLflow Model scoring protocol has changed ` +
            `in MLflow version 2.0; see https://www.mlflow.org/docs/latest/models.html#deploy-mlflow-models`,
        );
      }
    }
  } else {
    throw unsupported(
      `This predictor only supports the following content types: Types: ['text/csv', 'application/json']. Got '${ct}'.`,
    );
  }
  const text = await utf8Body(c);
  if (type.toLowerCase() === "text/csv") {
    const [columns, ...data] = parseCsv(text);
    if (!columns) throw new BadRequest("Invalid input: the CSV body has no header row");
    return { dataframe_split: { columns, data } };
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequest(
      `Invalid input. Ensure that input is a valid JSON formatted string. Error: '${(err as Error).message}'`,
    );
  }
}

/** OpenAI's legacy `logprobs` object of a completion's token entries. */
function legacyLogprobs(entries: TokenEntry[]) {
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => e.top),
    text_offset: entries.map((e) => e.offset),
  };
}

/** The body as text, or a 400 for bytes that are not UTF-8 (instead of decoding them as U+FFFD). */
async function utf8Body(c: Context): Promise<string> {
  const bytes = new Uint8Array(await c.req.arrayBuffer()); // a body that fails to arrive keeps its error (408, 413)
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    throw new BadRequest(
      `Invalid request body: byte ${bad} (0x${
        bytes[bad].toString(16).padStart(2, "0")
      }) is not valid UTF-8; ` +
        `send the body as UTF-8`,
    );
  }
  return new TextDecoder().decode(bytes);
}

/** JSON of a request body, or a 400 that says so. */
async function jsonBody(c: Context): Promise<unknown> {
  const text = await utf8Body(c);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`Invalid JSON in the request body: ${(err as Error).message}`);
  }
}

/** Builds the model server app. */
export function createServeApp(opts: ServeAppOptions): Hono {
  const app = new Hono();
  const metrics = opts.metrics;
  const maxChoices = opts.maxChoices ?? 64;
  const startedAt = Math.floor(Date.now() / 1000); // /v1/models' `created`: when this server took the model
  const names = [opts.modelName, ...(opts.modelAliases ?? [])];
  const modelObject = (id: string) => ({ id, object: "model", created: startedAt, owned_by: "storyteller" });
  /** A 404 in OpenAI's shape (code model_not_found) for a `model` this server does not serve. */
  const unknownModel = (model: string, param: string | null) =>
    new HTTPException(404, {
      res: openAIErrorResponse(
        404,
        `The model '${model}' does not exist: this server serves '${opts.modelName}'` +
          (names.length > 1 ? ` (also named ${names.slice(1).map((n) => `'${n}'`).join(", ")})` : ""),
        "model_not_found",
        param,
      ),
    });
  /** Refuses a request body whose `model` names another model (absent or null: this one). */
  const checkModel = (body: unknown) => {
    const model = (body as { model?: unknown } | null)?.model;
    if (typeof model === "string" && !names.includes(model)) throw unknownModel(model, "model");
  };
  // MLflow-shaped errors on every route; the /v1/* middleware below turns them into OpenAI's shape.
  app.onError((err, c) => {
    if (err instanceof HTTPException && err.res) return err.getResponse();
    const known = knownError(err);
    if (!known) return renderError(err, c);
    if (c.req.path.startsWith("/v1/")) {
      return openAIErrorResponse(
        known.status,
        known.message,
        known.code,
        err instanceof BadRequest ? err.param : null,
      );
    }
    return errorResponse(known.code, known.message, known.status);
  });
  app.use("*", async (c, next) => {
    await next();
    const status = c.req.raw.signal.aborted ? CLIENT_CLOSED : c.res.status;
    metrics.request(routeOf(c.req.path), status);
  });
  app.use("/v1/*", async (c, next) => {
    await next();
    c.res = await toOpenAIError(c.res); // the guard's 401/403/413, 404s, the 503 while loading
  });
  const guarded = guard(opts.guard);
  const open = guard({ ...opts.guard, authToken: undefined, htpasswdFile: undefined });
  app.use("*", (c, next) => (PROBES.includes(c.req.path) ? open : guarded)(c, next));

  const ready = (): ModelService => {
    const s = opts.service();
    if (!s) {
      const res = errorResponse(
        "TEMPORARILY_UNAVAILABLE",
        "Cannot answer yet: the model is still loading",
        503,
      );
      throw new HTTPException(503, { res });
    }
    return s;
  };
  const ping = (c: Context) =>
    opts.service()
      ? c.body("\n", 200, JSON_HEADERS)
      : c.body(JSON.stringify({ status: "loading" }) + "\n", 503, JSON_HEADERS);
  app.get("/ping", ping);
  app.get("/health", ping);
  app.get("/version", (c) => c.body(VERSION, 200, JSON_HEADERS));
  app.get("/metrics", (c) => c.body(metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4" }));

  app.post("/invocations", async (c) => {
    const service = ready();
    const { prompts, options } = parseInvocation(await invocationBody(c), {
      vocabSize: service.engine.dims.V,
    });
    const encoded = encodeAll(service, prompts, "inputs");
    const signal = c.req.raw.signal; // a client that goes away stops its generation
    const results = await Promise.all(encoded.map((p) => service.complete(p, options, undefined, signal)));
    if (signal.aborted) return cancelled(metrics);
    return c.json({ predictions: results.map((r) => r.text) });
  });

  app.get("/v1/models", (c) => c.json({ object: "list", data: names.map(modelObject) }));
  app.get("/v1/models/:id{.+}", (c) => {
    const id = c.req.param("id");
    if (!names.includes(id)) throw unknownModel(id, null);
    return c.json(modelObject(id));
  });

  app.post("/v1/completions", async (c) => {
    const service = ready();
    const body = await jsonBody(c);
    const req = parseCompletion(body, {
      vocabSize: service.engine.dims.V,
      maxChoices,
      temperature: service.loaded.generation.temperature,
    });
    checkModel(body);
    const encoded = encodeAll(service, req.prompts, "prompt");
    const base = {
      id: `cmpl-${crypto.randomUUID().replaceAll("-", "")}`,
      object: "text_completion",
      created: Math.floor(Date.now() / 1000),
      model: opts.modelName,
    };
    // best_of candidates per prompt (n without it), seeded seed, seed + 1, … as n's choices are.
    const ranked = req.bestOf > req.n;
    const optionsOf = (i: number): GenerateOptions => ({
      ...req.options,
      ...(req.options.seed === undefined ? {} : { seed: (req.options.seed + i) >>> 0 }),
      ...(ranked ? { score: true } : {}),
    });
    const jobs = encoded.flatMap((prompt) =>
      Array.from({ length: req.bestOf }, (_, i) => ({ prompt, options: optionsOf(i) }))
    );
    const logprobsOf = (entries: TokenEntry[] | undefined) => entries ? legacyLogprobs(entries) : null;
    // With logprobs, each chunk carries the entries of the tokens its text delta holds.
    const wantLogprobs = req.options.logprobs !== undefined;
    // As OpenAI does: usage only when stream_options.include_usage asks, then null on every choice chunk and
    // counted in one last chunk with no choices.
    const usageField = req.includeUsage ? { usage: null } : {};
    const shape: ChoiceShape = {
      chunk: (index, text, entries, finish) => ({
        ...base,
        choices: [{
          text,
          index,
          logprobs: logprobsOf(wantLogprobs ? entries : undefined),
          finish_reason: finish,
        }],
        ...usageField,
      }),
      usage: (usage) => ({ ...base, choices: [], usage }),
      whole: (chosen, usage) => ({
        ...base,
        choices: chosen.map((r, index) => ({
          text: r.text,
          index,
          logprobs: logprobsOf(r.logprobs),
          finish_reason: r.finishReason,
        })),
        usage,
      }),
    };
    return await answerChoices(c, {
      service,
      metrics,
      jobs,
      stream: req.stream,
      includeUsage: req.includeUsage,
      shape,
      ...(ranked ? { select: (done: Completion[]) => bestOf(done, req.bestOf, req.n) } : {}),
    });
  });

  app.post("/v1/chat/completions", async (c) => {
    const service = ready();
    const body = await jsonBody(c);
    const req = parseChat(body, {
      vocabSize: service.engine.dims.V,
      maxChoices,
      temperature: service.loaded.generation.temperature,
    });
    checkModel(body);
    const [prompt] = encodeAll(service, [service.loaded.chat.format(req.messages)], "messages");
    const base = {
      id: `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`,
      created: Math.floor(Date.now() / 1000),
      model: opts.modelName,
    };
    const jobs = Array.from({ length: req.n }, (_, i) => ({
      prompt,
      options: {
        ...req.options,
        ...(req.options.seed === undefined ? {} : { seed: (req.options.seed + i) >>> 0 }),
      },
    }));
    return await answerChoices(c, {
      service,
      metrics,
      jobs,
      stream: req.stream,
      includeUsage: req.includeUsage,
      shape: chatShape(base, req.options.logprobs !== undefined, req.includeUsage),
    });
  });

  for (const [path, method] of Object.entries(ROUTES)) {
    app.all(path, (c) => {
      const headers = { Allow: method === "GET" ? "GET, HEAD" : method };
      if (!path.startsWith("/v1/")) return c.json({ detail: "Method Not Allowed" }, 405, headers);
      const message = `Cannot ${c.req.method} ${path}: the route only accepts ${method}`;
      return openAIErrorResponse(405, message, "BAD_REQUEST", null, headers);
    });
  }
  app.notFound((c) => errorResponse("ENDPOINT_NOT_FOUND", `Cannot find ${c.req.method} ${c.req.path}`, 404));
  return app;
}

/**
 * The n best of each prompt's `candidates` consecutive completions, best first: the highest mean log-probability
 * per token (OpenAI's "highest log probability per token"); ties keep the candidates' order.
 */
function bestOf(done: Completion[], candidates: number, n: number): Completion[] {
  const score = (r: Completion) => r.meanLogprob ?? -Infinity;
  const out: Completion[] = [];
  for (let p = 0; p < done.length; p += candidates) {
    const group = done.slice(p, p + candidates).map((r, i) => ({ r, i }));
    group.sort((a, b) => score(b.r) - score(a.r) || a.i - b.i);
    out.push(...group.slice(0, n).map((g) => g.r));
  }
  return out;
}

/**
 * Every prompt with its ids and text (token ids decoded for echo), or a 400 naming `field` for one that leaves no
 * room in the context.
 */
function encodeAll(service: ModelService, prompts: Prompt[], field: string): EncodedPrompt[] {
  return prompts.map((prompt, i) => {
    const ids = typeof prompt === "string" ? service.encode(prompt) : prompt;
    const problem = service.checkPrompt(ids);
    if (problem) {
      throw new BadRequest(`Invalid value for '${field}${prompts.length > 1 ? `[${i}]` : ""}': ${problem}`);
    }
    const text = typeof prompt === "string"
      ? prompt
      : service.loaded.tokenizer.decode(ids, { skipSpecial: true });
    return { text, ids };
  });
}
