/**
 * Running the choices of one OpenAI request (completions or chat) and answering it: all jobs at once through the
 * service, then one JSON body, or a server-sent event stream of chunks (each choice's text as it settles, its
 * finish, the usage on request, `[DONE]`), where an error is one `error` event in OpenAI's stream format. A client
 * that goes away cancels every job. Not the request parsing (params.ts, chat.ts) and not the body shapes, which
 * the caller gives.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Metrics } from "./metrics.ts";
import { openAIErrorBody } from "./openai_errors.ts";
import { BadRequest } from "./params.ts";
import { RequestTimeout } from "./scheduler.ts";
import type { Completion, EncodedPrompt, GenerateOptions, ModelService, TokenEntry } from "./service.ts";

/** MLflow's scoring-server answer to a request past its timeout (504 DEADLINE_EXCEEDED). */
export const TIMEOUT_MESSAGE = "Request processing time exceeded limit";

/** nginx's status for a request whose client closed the connection before the answer (metrics only). */
export const CLIENT_CLOSED = 499;

/** OpenAI's `usage` object. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Status, MLflow error code and message of an error the routes throw on purpose; null for anything else. */
export function knownError(
  err: Error,
): { status: number; code: "BAD_REQUEST" | "DEADLINE_EXCEEDED"; message: string } | null {
  if (err instanceof BadRequest || err instanceof RangeError) {
    return { status: 400, code: "BAD_REQUEST", message: err.message };
  }
  if (err instanceof RequestTimeout) {
    return { status: 504, code: "DEADLINE_EXCEEDED", message: `${TIMEOUT_MESSAGE}: ${err.message}` };
  }
  return null;
}

/** How one API spells its answers. */
export interface ChoiceShape {
  /** A streamed chunk of choice `index`: a text delta with its tokens' entries, or (finish set) its end. */
  chunk(index: number, text: string, entries: TokenEntry[], finish: string | null): unknown;
  /** A chunk each choice sends before any text (chat's `{"role": "assistant"}` delta); none if absent. */
  opening?(index: number): unknown;
  /** The streamed chunk that carries the usage, after every choice ended. */
  usage(usage: Usage): unknown;
  /** The whole answer of a request that does not stream. */
  whole(chosen: Completion[], usage: Usage): unknown;
}

/** One request's work. */
export interface ChoiceRun {
  service: ModelService;
  metrics: Metrics;
  /** The completions to generate, in answer order (n per prompt, or best_of candidates). */
  jobs: { prompt: EncodedPrompt; options: GenerateOptions }[];
  stream: boolean;
  includeUsage: boolean;
  shape: ChoiceShape;
  /** The answer's choices from every job's completion (best_of ranks); all of them if absent. */
  select?: (done: Completion[]) => Completion[];
}

/** The answer to a request whose client went away: nobody reads it, the metrics count it. */
export function cancelled(metrics: Metrics): Response {
  metrics.cancelled();
  return new Response(null, { status: CLIENT_CLOSED });
}

/** Generates every job and answers: JSON, or an SSE stream. */
export async function answerChoices(c: Context, run: ChoiceRun): Promise<Response> {
  const { service, metrics, jobs, shape } = run;
  // Each prompt counts once, however many jobs (n, best_of) read it.
  const seen = new Set<EncodedPrompt>();
  const prompt = jobs.reduce(
    (n, j) => seen.has(j.prompt) ? n : (seen.add(j.prompt), n + j.prompt.ids.length),
    0,
  );
  // Every candidate's tokens count, as OpenAI bills best_of (vLLM counts only the returned ones).
  const usage = (done: Completion[]): Usage => {
    const completion = done.reduce((n, r) => n + r.completionTokens, 0);
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  };
  metrics.promptTokens(prompt);
  const disconnected = c.req.raw.signal;
  if (!run.stream) {
    const done = await Promise.all(
      jobs.map((j) => service.complete(j.prompt, j.options, undefined, disconnected)),
    );
    if (disconnected.aborted) return cancelled(metrics);
    return c.json(shape.whole(run.select ? run.select(done) : done, usage(done)));
  }
  const abort = new AbortController(); // the client went away, or one choice failed
  disconnected.addEventListener("abort", () => abort.abort());
  // No onError: hono's streamSSE would follow ours with an `event: error` of its own, in plain text.
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort());
    let ended = false; // after an error nothing else goes out
    let writing = Promise.resolve();
    const send = (data: unknown) => {
      if (ended) return;
      writing = writing.then(() => stream.writeSSE({ data: JSON.stringify(data) })).catch(() =>
        abort.abort()
      );
    };
    try {
      const done = await Promise.all(jobs.map(async (j, index) => {
        if (shape.opening) send(shape.opening(index));
        const r = await service.complete(
          j.prompt,
          j.options,
          (delta, entries) => send(shape.chunk(index, delta, entries, null)),
          abort.signal,
        );
        send(shape.chunk(index, "", [], r.finishReason));
        return r;
      }));
      if (run.includeUsage) send(shape.usage(usage(done)));
      await writing;
      if (abort.signal.aborted) metrics.cancelled();
      else await stream.writeSSE({ data: "[DONE]" });
    } catch (err) {
      // One error event in OpenAI's stream format (the SDKs raise it as an APIError), then the end.
      ended = true;
      abort.abort(); // the request's other choices stop too
      await writing;
      if (disconnected.aborted || stream.aborted) {
        metrics.cancelled();
        return;
      }
      const known = knownError(err as Error);
      if (!known) console.error(`storyteller model server: unexpected error: ${(err as Error).stack ?? err}`);
      const error = known
        ? openAIErrorBody(known.status, known.message, known.code)
        : openAIErrorBody(500, `Cannot finish the completion: ${(err as Error).message}`, "INTERNAL_ERROR");
      await stream.writeSSE({ data: JSON.stringify({ error }) });
    }
  });
}
