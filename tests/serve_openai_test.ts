/**
 * The model server through the official `openai` npm client over a live socket: completions and streams parse,
 * every error reaches the client as an APIError carrying our message, a streamed error raises once and cleanly, and
 * a request the client aborts stops generating on the server.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { gpuTest } from "../src/gpu/testing.ts";
import { rejection, startLiveServer } from "./_live_serve.ts";
import { writeRandomModel } from "../src/serve/testing.ts";
import type { Gpu } from "../src/gpu/mod.ts";

const TOKEN = "sdk-token-0123456789abcdef";

/** A live model server with auth on for the model in `dir`/model; `requestTimeoutMs` as --request-timeout. */
function startServer(gpu: Gpu, dir: string, requestTimeoutMs?: number) {
  return startLiveServer(gpu, `${dir}/model`, { service: { requestTimeoutMs }, authToken: TOKEN });
}

gpuTest(
  "openai SDK: completions, streams, errors as APIError with our messages, abort stops work",
  async (gpu) => {
    const dir = await Deno.makeTempDir({ prefix: "serve_openai_" });
    await writeRandomModel(`${dir}/model`, { seed: 4 });
    const live = await startServer(gpu, dir);
    const slow = await startServer(gpu, dir, 1); // every generation outlives its 1 ms
    try {
      const { client } = live;
      const greedy = { model: "story", prompt: "The fox", max_tokens: 12, temperature: 0 };
      const done = await client.completions.create(greedy);
      assert.equal(done.object, "text_completion");
      assert.ok(done.choices[0].text.length > 0);
      let streamed = "";
      for await (const chunk of await client.completions.create({ ...greedy, stream: true })) {
        streamed += chunk.choices.map((c) => c.text).join("");
      }
      assert.equal(streamed, done.choices[0].text);

      // 400: the SDK's BadRequestError with our message and the field in `param`.
      let err = await rejection(() => client.completions.create({ ...greedy, top_p: 2 }));
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.match(err.message, /^400 Invalid value for 'top_p': 2/);
      assert.equal(err.param, "top_p");
      assert.equal(err.type, "invalid_request_error");
      // 401, 404 and 405: our messages, not "status code (no body)".
      const stranger = new OpenAI({ baseURL: `${live.url}/v1`, apiKey: "wrong-token-000000", maxRetries: 0 });
      err = await rejection(() => stranger.completions.create(greedy));
      assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
      assert.match(err.message, /^401 Cannot authorize the request/);
      err = await rejection(() => client.embeddings.create({ model: "story", input: "fox" }));
      assert.ok(err instanceof OpenAI.NotFoundError, String(err));
      assert.equal(err.message, "404 Cannot find POST /v1/embeddings");
      err = await rejection(() => client.get("/completions"));
      assert.ok(err instanceof OpenAI.APIError && err.status === 405, String(err));
      assert.match(err.message, /^405 Cannot GET \/v1\/completions/);

      // 504 past --request-timeout, after a burst of requests as in the report (8 × 8 prompts × n=8).
      const burst = await Promise.allSettled(
        Array.from(
          { length: 8 },
          () =>
            slow.client.completions.create({
              ...greedy,
              prompt: Array(8).fill("Once"),
              n: 8,
              temperature: 1,
            }),
        ),
      );
      for (const r of burst) {
        assert.equal(r.status, "rejected");
        const e = (r as PromiseRejectedResult).reason;
        assert.ok(e instanceof OpenAI.InternalServerError && e.status === 504, String(e));
        assert.match(
          e.message,
          /^504 Request processing time exceeded limit: Cannot finish the request within/,
        );
      }
      // Streamed, the timeout raises once, as an APIError with our message; the iteration then ends.
      const stream = await slow.client.completions.create({ ...greedy, stream: true });
      const raised: unknown[] = [];
      let chunks = 0;
      try {
        for await (const _ of stream) {
          chunks++;
        }
      } catch (e) {
        raised.push(e);
      }
      assert.equal(raised.length, 1);
      assert.ok(raised[0] instanceof OpenAI.APIError, String(raised[0]));
      assert.ok(!(raised[0] instanceof SyntaxError));
      assert.match(
        raised[0].message,
        /^Request processing time exceeded limit: Cannot finish the request within/,
      );
      assert.equal(raised[0].code, "DEADLINE_EXCEEDED");
      assert.ok(chunks <= 12, `${chunks} chunks before the error`);

      // A request the client aborts stops generating: 16 × 40 tokens asked, <|endoftext|> forbidden.
      const eot = live.service.loaded.tokenizer.eotId!;
      const generated = () =>
        Number(/^storyteller_generated_tokens_total (\d+)$/m.exec(live.service.metrics.render())![1]);
      const before = generated();
      const abort = new AbortController();
      const pending = client.completions.create(
        { ...greedy, prompt: "Once", n: 16, max_tokens: 40, temperature: 1, logit_bias: { [eot]: -100 } },
        { signal: abort.signal },
      );
      const deadline = Date.now() + 30_000;
      while (generated() === before && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2));
      }
      abort.abort();
      assert.ok(
        await rejection(() => pending) instanceof OpenAI.APIUserAbortError,
      );
      // The server sees the socket close a moment later; then its queued sequences never start.
      while (live.service.metrics.render().includes("storyteller_cancelled_requests_total 0")) {
        assert.ok(Date.now() < deadline, "the server noticed the disconnect");
        await new Promise((r) => setTimeout(r, 5));
      }
      const atNotice = generated();
      while (live.service.scheduler.busy) await new Promise((r) => setTimeout(r, 5));
      // After that, at most the chunk each of the 4 slots had in flight (6 steps) lands; nothing queued starts.
      assert.ok(generated() - atNotice <= 4 * 6, `${generated() - atNotice} tokens after the server noticed`);
    } finally {
      await live.stop();
      await slow.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
