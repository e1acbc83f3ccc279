import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { createServeApp } from "./app.ts";
import { loadModel } from "./load.ts";
import { Metrics } from "./metrics.ts";
import { ModelService } from "./service.ts";
import { writeRandomModel } from "./testing.ts";
import type { Gpu } from "../gpu/mod.ts";
import type { Hono } from "hono";

const TOKEN = "s3cret-token-for-tests-0123456789";

async function setup(gpu: Gpu, requestTimeoutMs?: number) {
  const dir = await Deno.makeTempDir({ prefix: "serve_app_" });
  await writeRandomModel(`${dir}/model`, { seed: 4 });
  const loaded = await loadModel(`${dir}/model`);
  const metrics = new Metrics();
  const service = new ModelService(gpu, loaded, { maxBatch: 4, chunk: 6, requestTimeoutMs }, metrics);
  const guard = { host: "127.0.0.1", port: 5001, maxBodyBytes: 4096 };
  // The seconds between which the app took the model: /v1/models' `created` lies in them.
  const createdFrom = Math.floor(Date.now() / 1000);
  const app = createServeApp({ service: () => service, metrics, modelName: loaded.name, guard });
  const createdTo = Math.ceil(Date.now() / 1000);
  const authed = createServeApp({
    service: () => service,
    metrics,
    modelName: "m",
    guard: { ...guard, authToken: TOKEN },
  });
  const loading = createServeApp({ service: () => null, metrics, modelName: "m", guard });
  const cleanup = async () => {
    service.close();
    while (service.scheduler.busy) await new Promise((r) => setTimeout(r, 5)); // timed-out work still in flight
    service.engine.destroy();
    await Deno.remove(dir, { recursive: true });
  };
  return { app, authed, loading, service, cleanup, createdFrom, createdTo };
}

const post = (body: unknown, type = "application/json", headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "Content-Type": type, ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

gpuTest("serve app: scoring protocol routes, shapes and errors", async (gpu) => {
  const { app, authed, loading, service, cleanup } = await setup(gpu);
  try {
    let res = await app.request("/ping");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "\n");
    assert.equal((await app.request("/health")).status, 200);
    assert.equal((await loading.request("/ping")).status, 503);
    assert.equal((await loading.request("/invocations", post({ inputs: ["a"] }))).status, 503);
    assert.match(await (await app.request("/version")).text(), /^\d+\.\d+\.\d+/);

    const greedy = { temperature: 0, max_tokens: 8 };
    const want = (await service.complete("Once upon", { temperature: 0, maxTokens: 8 })).text;
    assert.ok(want.length > 0);
    const shapes = [
      { dataframe_split: { columns: ["prompt"], data: [["Once upon"], ["The fox"]] } },
      { dataframe_records: [{ prompt: "Once upon" }, { prompt: "The fox" }] },
      { instances: ["Once upon", { prompt: "The fox" }] },
      { inputs: { prompt: ["Once upon", "The fox"] } },
      { inputs: ["Once upon", "The fox"] },
    ];
    for (const shape of shapes) {
      res = await app.request("/invocations", post({ ...shape, params: greedy }));
      assert.equal(res.status, 200, JSON.stringify(shape));
      const body = await res.json();
      assert.equal(body.predictions.length, 2);
      assert.equal(body.predictions[0], want, JSON.stringify(shape));
    }
    res = await app.request("/invocations", post('prompt\n"Once upon"\nThe fox\n', "text/csv"));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).predictions.length, 2);

    const bad: [unknown, string, number?][] = [
      ["{not json", "valid JSON"],
      [[1, 2], "Received a list"],
      [{ inputs: ["a"], instances: ["b"] }, "exactly one of the input fields"],
      [{ inputs: ["a"], extra: 1 }, "'extra'"],
      [{ inputs: ["a"], params: { max_tokens: -3 } }, "'params.max_tokens'"],
      [{ inputs: ["a"], params: { max_tokens: 1e12 } }, "'params.max_tokens'"],
      [{ inputs: ["a"], params: { temperature: "hot" } }, "'params.temperature'"],
      [{ inputs: ["a"], params: { beam_width: 3 } }, "'beam_width'"],
      [{ inputs: [42] }, "'inputs[0]'"],
      [{ dataframe_split: { columns: ["a", "b"], data: [["x", "y"]] } }, "'dataframe_split.columns'"],
      [{ inputs: ["word ".repeat(200)] }, "context"],
    ];
    for (const [body, needle] of bad) {
      res = await app.request("/invocations", post(body));
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 60));
      const err = await res.json();
      assert.equal(err.error_code, "BAD_REQUEST");
      assert.ok(err.message.includes(needle), `${err.message} should mention ${needle}`);
    }
    res = await app.request("/invocations", post("x", "text/plain"));
    assert.equal(res.status, 415);
    assert.match(await res.text(), /only supports the following content types/);
    res = await app.request("/invocations", post({ inputs: ["a"] }, "application/json; charset=latin-1"));
    assert.equal(res.status, 415);
    await res.body?.cancel();
    res = await app.request("/invocations", post({ inputs: ["x".repeat(10000)] }));
    assert.equal(res.status, 413);
    await res.body?.cancel();
    res = await app.request("/invocations");
    assert.equal(res.status, 405);
    assert.deepEqual(await res.json(), { detail: "Method Not Allowed" });
    res = await authed.request("/invocations", post({ inputs: ["a"] }));
    assert.equal(res.status, 401);
    await res.body?.cancel();
    res = await authed.request(
      "/invocations",
      post({ inputs: ["Once upon"], params: greedy }, "application/json", {
        Authorization: `Bearer ${TOKEN}`,
      }),
    );
    assert.equal(res.status, 200);
    assert.equal((await res.json()).predictions[0], want);
  } finally {
    await cleanup();
  }
});

/** The data lines of an SSE body. */
/** A /v1/completions answer that must be a 200, as JSON. */
async function completeOk(app: Hono, body: Record<string, unknown>) {
  const res = await app.request("/v1/completions", post(body));
  assert.equal(res.status, 200, JSON.stringify(body));
  return await res.json();
}

function sseData(text: string): string[] {
  return text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
}

gpuTest("serve app: OpenAI completions, streaming, stop strings, models and metrics", async (gpu) => {
  const { app, service, cleanup, createdFrom, createdTo } = await setup(gpu);
  try {
    const prompt = "The fox";
    const full = await service.complete(prompt, { temperature: 0, maxTokens: 12 });
    let res = await app.request("/v1/completions", post({ prompt, max_tokens: 12, temperature: 0 }));
    assert.equal(res.status, 200);
    let body = await res.json();
    assert.equal(body.object, "text_completion");
    assert.equal(body.choices[0].text, full.text);
    assert.equal(body.choices[0].finish_reason, full.finishReason);
    assert.equal(body.usage.completion_tokens, full.completionTokens);
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);

    // Streaming: the deltas add up to the same text and the stream ends with [DONE].
    res = await app.request(
      "/v1/completions",
      post({ prompt, max_tokens: 12, temperature: 0, stream: true }),
    );
    assert.equal(res.status, 200);
    assert.match(res.headers.get("Content-Type") ?? "", /text\/event-stream/);
    const data = sseData(await res.text());
    assert.equal(data.at(-1), "[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    const text = chunks.flatMap((ch) => ch.choices.map((c: { text: string }) => c.text)).join("");
    assert.equal(text, full.text);
    assert.ok(chunks.length >= 3, "several chunks");
    assert.ok(chunks.every((ch) => !("usage" in ch)), "no usage unless stream_options.include_usage");

    // stream_options.include_usage: usage is null on choice chunks and counted in a last chunk without choices.
    res = await app.request(
      "/v1/completions",
      post({ prompt, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } }),
    );
    const withUsage = sseData(await res.text()).slice(0, -1).map((d) => JSON.parse(d));
    assert.ok(withUsage.slice(0, -1).every((ch) => ch.usage === null && ch.choices.length === 1));
    assert.deepEqual(withUsage.at(-1).choices, []);
    assert.equal(withUsage.at(-1).usage.completion_tokens, full.completionTokens);
    assert.equal(
      withUsage.at(-1).usage.total_tokens,
      withUsage.at(-1).usage.prompt_tokens + full.completionTokens,
    );

    // A stop string in the middle of the greedy text ends it there.
    const stop = full.text.slice(Math.floor(full.text.length / 2), Math.floor(full.text.length / 2) + 2);
    res = await app.request(
      "/v1/completions",
      post({ prompt, max_tokens: 12, temperature: 0, stop: [stop] }),
    );
    body = await res.json();
    assert.equal(body.choices[0].text, full.text.slice(0, full.text.indexOf(stop)));
    assert.equal(body.choices[0].finish_reason, "stop");

    // n and several prompts, seeded: reproducible.
    const sampled = { prompt: [prompt, "Once"], n: 2, max_tokens: 6, temperature: 1, seed: 7 };
    const a = await (await app.request("/v1/completions", post(sampled))).json();
    const b = await (await app.request("/v1/completions", post(sampled))).json();
    assert.equal(a.choices.length, 4);
    assert.deepEqual(a.choices, b.choices);

    for (
      const [req, needle] of [
        [{ prompt, max_tokens: -1 }, "'max_tokens'"],
        [{ prompt, top_p: 2 }, "'top_p'"],
        [{ prompt, n: 1000 }, "'n'"],
        [{ prompt, beam: 1 }, "'beam'"],
        [{ prompt: 5 }, "'prompt'"],
        [{ prompt, logprobs: 6 }, "'logprobs'"],
        [{ prompt, logprobs: 1.5 }, "'logprobs'"],
        [{ prompt, logprobs: true }, "'logprobs'"],
        [{ prompt, echo: "yes" }, "'echo'"],
        [{ prompt, suffix: "!" }, "'suffix'"],
        [{ prompt, stream: "yes" }, "'stream'"],
        [{ prompt, repetition_penalty: 0 }, "'repetition_penalty'"],
        [{ prompt, repetition_penalty: 11 }, "'repetition_penalty'"],
        [{ prompt, repetition_penalty: "1.2" }, "'repetition_penalty'"],
        [{ prompt, frequency_penalty: 2.5 }, "'frequency_penalty'"],
        [{ prompt, presence_penalty: -3 }, "'presence_penalty'"],
        [{ prompt, presence_penalty: "1" }, "'presence_penalty'"],
      ] as const
    ) {
      res = await app.request("/v1/completions", post(req));
      assert.equal(res.status, 400, JSON.stringify(req));
      const { error } = await res.json(); // OpenAI's shape on /v1/*, naming the field in `param`
      assert.ok(error.message.includes(needle), needle);
      assert.equal(error.type, "invalid_request_error");
      assert.equal(`'${error.param}'`, needle);
    }

    body = await (await app.request("/v1/models")).json();
    assert.equal(body.data[0].id, "model");
    const created = body.data[0].created;
    assert.ok(
      createdFrom <= created && created <= createdTo,
      `created ${created}: the app's start, in seconds`,
    );
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /storyteller_requests_total\{route="\/v1\/completions",status="200"\} \d+/);
    assert.match(metrics, /storyteller_generated_tokens_total [1-9]\d*/);
    assert.match(metrics, /storyteller_time_to_first_token_seconds_count [1-9]/);
    assert.match(metrics, /storyteller_queue_length 0/);
    assert.match(metrics, /storyteller_batch_slots 4/);
  } finally {
    await cleanup();
  }
});

gpuTest(
  "serve app: repetition_penalty in both APIs; a request past --request-timeout gets 504 or an SSE error",
  async (gpu) => {
    const { app, service, cleanup } = await setup(gpu);
    try {
      const prompt = "The fox";
      const want = await service.complete(prompt, { temperature: 0, maxTokens: 10, repetitionPenalty: 0.5 });
      const plain = await service.complete(prompt, { temperature: 0, maxTokens: 10 });
      assert.notEqual(want.text, plain.text, "a penalty under 1 makes this model repeat the prompt");
      let res = await app.request(
        "/v1/completions",
        post({ prompt, max_tokens: 10, temperature: 0, repetition_penalty: 0.5 }),
      );
      assert.equal((await res.json()).choices[0].text, want.text);
      res = await app.request(
        "/invocations",
        post({ inputs: [prompt], params: { max_tokens: 10, temperature: 0, repetition_penalty: 0.5 } }),
      );
      assert.deepEqual(await res.json(), { predictions: [want.text] });
      res = await app.request("/invocations", post({ inputs: [prompt], params: { repetition_penalty: -1 } }));
      assert.equal(res.status, 400);
      assert.match((await res.json()).message, /'params\.repetition_penalty'/);
    } finally {
      await cleanup();
    }
    const slow = await setup(gpu, 1);
    try {
      let res = await slow.app.request("/v1/completions", post({ prompt: "Once", max_tokens: 30, n: 3 }));
      assert.equal(res.status, 504);
      const { error } = await res.json();
      assert.equal(error.code, "DEADLINE_EXCEEDED");
      assert.equal(error.type, "timeout_error");
      assert.match(
        error.message,
        /^Request processing time exceeded limit: Cannot finish the request within/,
      );
      res = await slow.app.request("/invocations", post({ inputs: ["Once"], params: { max_tokens: 30 } }));
      assert.equal(res.status, 504);
      assert.equal((await res.json()).error_code, "DEADLINE_EXCEEDED", "MLflow's shape on MLflow's route");
      // Streaming, one error event in OpenAI's format ends the stream: no `event: error`, no hono text, no [DONE].
      res = await slow.app.request(
        "/v1/completions",
        post({ prompt: ["Once", "The fox"], n: 4, max_tokens: 30, stream: true }),
      );
      assert.equal(res.status, 200);
      const text = await res.text();
      const events = text.split("\n\n").filter((e) => e.trim());
      assert.equal(events.length, 1, text);
      assert.ok(events[0].startsWith("data: "), text);
      const streamed = JSON.parse(events[0].slice(6)).error;
      assert.equal(streamed.code, "DEADLINE_EXCEEDED");
      assert.match(streamed.message, /^Request processing time exceeded limit: Cannot finish the request/);
      while (slow.service.scheduler.busy) await new Promise((r) => setTimeout(r, 5));
      const metrics = await (await slow.app.request("/metrics")).text();
      assert.match(metrics, /storyteller_request_timeouts_total\{where="generation"\} [1-9]/);
      assert.match(metrics, /storyteller_requests_total\{route="\/v1\/completions",status="504"\} 1/);
    } finally {
      await slow.cleanup();
    }
  },
);

/** OpenAI's legacy logprobs object, as the tests read it. */
interface Logprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** Checks the shape OpenAI's legacy completions give `logprobs` with `n` top entries requested. */
function assertLogprobs(lp: Logprobs, n: number, label: string): void {
  assert.deepEqual(
    Object.keys(lp).sort(),
    ["text_offset", "token_logprobs", "tokens", "top_logprobs"],
    label,
  );
  const len = lp.tokens.length;
  for (const list of [lp.token_logprobs, lp.top_logprobs, lp.text_offset]) {
    assert.equal(list.length, len, label);
  }
  lp.tokens.forEach((token, i) => {
    const top = lp.top_logprobs[i];
    const logprob = lp.token_logprobs[i];
    if (top === null || logprob === null) {
      // Only an echoed prompt's first token has nothing before it to be scored by, as OpenAI answers it.
      assert.equal(i, 0, `${label} ${i}: only the first token may lack a logprob`);
      assert.ok(top === null && logprob === null, `${label}: the first token lacks both or neither`);
      return;
    }
    assert.ok(logprob <= 0, `${label} ${i}: logprob ${logprob}`);
    assert.equal(top[token], logprob, `${label} ${i}: the chosen token is always in top_logprobs`);
    // n most likely + the chosen one; tokens that decode alike (U+FFFD bytes) share a key.
    assert.ok(Object.keys(top).length <= n + 1, `${label} ${i}: ${Object.keys(top).length} entries`);
    if (i > 0) assert.ok(lp.text_offset[i] >= lp.text_offset[i - 1], `${label}: offsets never go back`);
  });
}

gpuTest(
  "serve app: logprobs, echo, and presence/frequency penalties in both APIs (OpenAI's legacy completions shape)",
  async (gpu) => {
    const { app, service, cleanup } = await setup(gpu);
    const complete = (body: Record<string, unknown>) => completeOk(app, body);
    try {
      const prompt = "The fox";
      const greedy = { prompt, max_tokens: 10, temperature: 0 };
      const plain = (await complete(greedy)).choices[0];
      assert.equal(plain.logprobs, null);

      // logprobs: 3 — the same text, one entry per generated token; greedy picks are each position's best.
      const body = await complete({ ...greedy, logprobs: 3 });
      const c = body.choices[0];
      assert.equal(c.text, plain.text);
      const lp: Logprobs = c.logprobs;
      assertLogprobs(lp, 3, "logprobs 3");
      assert.equal(lp.tokens.length, body.usage.completion_tokens);
      assert.equal(lp.text_offset[0], prompt.length, "offsets count from the start of the prompt");
      lp.top_logprobs.forEach((top, i) => {
        assert.equal(Math.max(...Object.values(top!)), lp.token_logprobs[i], `greedy token ${i} is the best`);
      });
      assert.ok(
        lp.top_logprobs.some((t) => Object.keys(t!).length === 3),
        "three alternatives where they differ",
      );
      const zero: Logprobs = (await complete({ ...greedy, logprobs: 0 })).choices[0].logprobs;
      assert.deepEqual(
        zero.token_logprobs,
        lp.token_logprobs,
        "the same log-probabilities, however many top",
      );
      zero.top_logprobs.forEach((top, i) =>
        assert.deepEqual(top, { [zero.tokens[i]]: zero.token_logprobs[i] })
      );

      // Sampled: every token's logprob is its raw-model probability (temperature does not enter).
      const hot = await complete({ ...greedy, temperature: 1.5, seed: 3, logprobs: 2 });
      assertLogprobs(hot.choices[0].logprobs, 2, "sampled");

      // echo: the prompt leads the text; with logprobs, its tokens lead the lists, the first without a logprob.
      const echoed = (await complete({ ...greedy, echo: true })).choices[0];
      assert.equal(echoed.text, prompt + plain.text);
      assert.equal(echoed.logprobs, null);
      const both = await complete({ ...greedy, echo: true, logprobs: 1 });
      const e: Logprobs = both.choices[0].logprobs;
      assert.equal(both.choices[0].text, prompt + plain.text);
      assertLogprobs(e, 1, "echo");
      const P = both.usage.prompt_tokens;
      assert.equal(e.tokens.length, P + both.usage.completion_tokens);
      assert.equal(e.tokens.slice(0, P).join(""), prompt);
      assert.equal(e.token_logprobs[0], null);
      assert.equal(e.top_logprobs[0], null);
      assert.ok(e.token_logprobs.slice(1).every((x) => typeof x === "number" && x <= 0));
      assert.equal(e.text_offset[0], 0);
      assert.deepEqual(e.text_offset.slice(P), lp.text_offset);
      assert.deepEqual(e.token_logprobs.slice(P), lp.token_logprobs);

      // Streaming: each chunk carries the entries of its own text; together they equal the non-streamed object.
      let res = await app.request(
        "/v1/completions",
        post({ ...greedy, echo: true, logprobs: 1, stream: true }),
      );
      const chunks = sseData(await res.text()).slice(0, -1).map((d) => JSON.parse(d).choices[0]);
      assert.equal(chunks[0].text, prompt, "the echoed prompt comes first, on its own");
      assert.deepEqual(chunks[0].logprobs.tokens, e.tokens.slice(0, P));
      const joined = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] } as Logprobs;
      for (const ch of chunks) {
        for (const k of Object.keys(joined) as (keyof Logprobs)[]) {
          (joined[k] as unknown[]).push(...ch.logprobs[k]);
        }
      }
      assert.deepEqual(joined, e);
      assert.equal(chunks.map((ch) => ch.text).join(""), prompt + plain.text);
      assert.equal(chunks.at(-1).finish_reason, "length");

      // A stop string cuts the text and the entries of the tokens past the cut.
      const at = Math.floor(plain.text.length / 2);
      const stop = plain.text.slice(at, at + 2);
      const cut = (await complete({ ...greedy, logprobs: 2, stop: [stop] })).choices[0];
      const kept = plain.text.slice(0, plain.text.indexOf(stop));
      assert.equal(cut.text, kept);
      const end = prompt.length + [...kept].length;
      const keep = lp.text_offset.filter((o) => o < end).length;
      assert.deepEqual(cut.logprobs.text_offset, lp.text_offset.slice(0, keep));
      assert.deepEqual(cut.logprobs.token_logprobs, lp.token_logprobs.slice(0, keep));
      assert.ok(keep < lp.tokens.length);

      // Presence and frequency penalties: same answers from both APIs and the service; negative ones reward repeats.
      for (const [presence, frequency] of [[-2, -2], [2, 1]]) {
        const opts = {
          temperature: 0,
          maxTokens: 10,
          presencePenalty: presence,
          frequencyPenalty: frequency,
        };
        const want = await service.complete(prompt, opts);
        const params = { ...greedy, presence_penalty: presence, frequency_penalty: frequency };
        assert.equal((await complete(params)).choices[0].text, want.text);
        res = await app.request(
          "/invocations",
          post({ inputs: [prompt], params: { ...params, prompt: undefined } }),
        );
        assert.deepEqual(await res.json(), { predictions: [want.text] });
        if (presence < 0) assert.notEqual(want.text, plain.text, "rewarding repeats changes the greedy text");
      }
      res = await app.request("/invocations", post({ inputs: [prompt], params: { presence_penalty: 2.5 } }));
      assert.equal(res.status, 400);
      assert.match((await res.json()).message, /'params\.presence_penalty'/);
      res = await app.request("/invocations", post({ inputs: [prompt], params: { logprobs: 2 } }));
      assert.equal(res.status, 400, "logprobs are a completions field, not a scoring param");
      await res.body?.cancel();
    } finally {
      await cleanup();
    }
  },
);

gpuTest(
  "serve app: logit_bias in both APIs and best_of ranking by mean logprob (OpenAI's legacy completions)",
  async (gpu) => {
    const { app, service, cleanup } = await setup(gpu);
    const complete = (body: Record<string, unknown>) => completeOk(app, body);
    const tok = service.loaded.tokenizer;
    try {
      const prompt = "The fox";
      const greedy = { prompt, max_tokens: 10, temperature: 0 };
      const plain = (await complete(greedy)).choices[0].text;
      const ids = service.encode(prompt);
      const first = (await service.scheduler.submit({
        prompt: ids,
        maxTokens: 1,
        temperature: 0,
        topK: 0,
        topP: 1,
        seed: 0,
        stopIds: [],
      })).tokens[0];

      // −100 on the greedy pick: another story, the same from the service, /v1/completions and /invocations.
      const want = await service.complete(prompt, {
        temperature: 0,
        maxTokens: 10,
        logitBias: [[first, -100]],
      });
      assert.notEqual(want.text, plain);
      assert.ok(!want.text.startsWith(tok.decode([first])), "the forbidden id does not start it");
      const banned = { ...greedy, logit_bias: { [first]: -100, "7": 0 } };
      assert.equal((await complete(banned)).choices[0].text, want.text);
      let res = await app.request(
        "/invocations",
        post({ inputs: [prompt], params: { ...banned, prompt: undefined } }),
      );
      assert.deepEqual(await res.json(), { predictions: [want.text] });

      // +100 forces an id at every step, sampled too; logprobs stay the model's own (a forced id is unlikely).
      const fox = service.encode(" fox").at(-1)!;
      const forced = await complete({
        prompt,
        max_tokens: 6,
        temperature: 1.2,
        seed: 5,
        logprobs: 1,
        logit_bias: { [fox]: 100 },
      });
      const c = forced.choices[0];
      assert.equal(c.text, tok.decode(Array(6).fill(fox)));
      assert.deepEqual(c.logprobs.tokens, Array(6).fill(tok.decode([fox])));
      assert.ok(c.logprobs.token_logprobs.every((x: number) => x <= 0), `${c.logprobs.token_logprobs}`);
      assert.ok(
        c.logprobs.token_logprobs.some((x: number) => x < -0.01),
        "the record is the raw probability, not the biased one (≈ 1)",
      );

      // best_of: the n candidates seeded seed, seed + 1, … are those `n` returns; the best mean logprob wins.
      // <|endoftext|> is forbidden, so every candidate's score is the mean of its returned token_logprobs.
      const eot = { [tok.eotId!]: -100 };
      const sampled = { prompt, max_tokens: 8, temperature: 1.3, seed: 11, logit_bias: eot };
      const all = await complete({ ...sampled, n: 4, logprobs: 0 });
      const mean = (ch: { logprobs: { token_logprobs: number[] } }) =>
        ch.logprobs.token_logprobs.reduce((a, x) => a + x, 0) / ch.logprobs.token_logprobs.length;
      const order = [0, 1, 2, 3].sort((a, b) => mean(all.choices[b]) - mean(all.choices[a]));
      assert.ok(new Set(all.choices.map(mean)).size === 4, "four different candidates");
      const best = await complete({ ...sampled, n: 1, best_of: 4, logprobs: 0 });
      assert.equal(best.choices.length, 1);
      assert.deepEqual(best.choices[0], { ...all.choices[order[0]], index: 0 });
      assert.ok(all.choices.every((ch: never) => mean(ch) <= mean(best.choices[0])));
      assert.deepEqual(best.usage, all.usage, "usage counts every candidate's tokens");
      assert.equal(best.usage.completion_tokens, 4 * 8);
      const two = await complete({ ...sampled, n: 2, best_of: 4 });
      assert.deepEqual(
        two.choices.map((ch: { text: string }) => ch.text),
        [order[0], order[1]].map((i) => all.choices[i].text),
      );
      assert.deepEqual(two.choices.map((ch: { index: number; logprobs: null }) => [ch.index, ch.logprobs]), [[
        0,
        null,
      ], [1, null]]);
      // Several prompts: each gets the best of its own candidates.
      const prompts = [prompt, "Once upon"];
      const each = await complete({ ...sampled, prompt: prompts, n: 3, logprobs: 0 });
      const bestEach = await complete({ ...sampled, prompt: prompts, best_of: 3, logprobs: 0 });
      assert.equal(bestEach.choices.length, 2);
      for (const [p, choice] of bestEach.choices.entries()) {
        const group = each.choices.slice(3 * p, 3 * p + 3);
        const top = Math.max(...group.map(mean));
        assert.equal(mean(choice), top, `prompt ${p}`);
        assert.ok(
          group.some((ch: { text: string }) => ch.text === choice.text),
          `prompt ${p}: one of its own`,
        );
        assert.equal(choice.index, p);
      }
      // best_of = n is n: streamed as before.
      res = await app.request("/v1/completions", post({ ...sampled, n: 2, best_of: 2, stream: true }));
      assert.equal(res.status, 200);
      assert.equal(sseData(await res.text()).at(-1), "[DONE]");

      const tooMany = Object.fromEntries(Array.from({ length: 301 }, (_, i) => [String(i), 1]));
      for (
        const [body, needle] of [
          [{ prompt, logit_bias: [1] }, "'logit_bias'"],
          [{ prompt, logit_bias: "x" }, "'logit_bias'"],
          [{ prompt, logit_bias: { abc: 1 } }, '"abc" is not a token id'],
          [{ prompt, logit_bias: { "-1": 1 } }, '"-1" is not a token id'],
          [{ prompt, logit_bias: { "007": 1 } }, '"007" is not a token id'],
          [
            { prompt, logit_bias: { "300": 1 } },
            "token id 300 is outside the model's vocabulary (ids 0 to 299)",
          ],
          [{ prompt, logit_bias: { "5": 101 } }, `'logit_bias["5"]': 101`],
          [{ prompt, logit_bias: { "5": "1" } }, `'logit_bias["5"]'`],
          [{ prompt, logit_bias: tooMany }, "301 entries, at most 300"],
          [{ prompt, best_of: 0 }, "'best_of'"],
          [{ prompt, best_of: 1.5 }, "'best_of'"],
          [{ prompt, n: 3, best_of: 2 }, "an integer from n (3) to 64"],
          [{ prompt, best_of: 2, stream: true }, "cannot be streamed"],
          [{ prompt, best_of: 2, temperature: 0 }, "greedy"],
          [{ prompt: [prompt, prompt, prompt], best_of: 22 }, "3 prompts × best_of=22 exceed 64"],
        ] as const
      ) {
        res = await app.request("/v1/completions", post(body));
        assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
        const msg = (await res.json()).error.message;
        assert.ok(msg.includes(needle), `${msg} should mention ${needle}`);
      }
      res = await app.request(
        "/invocations",
        post({ inputs: [prompt], params: { logit_bias: { "999": 1 } } }),
      );
      assert.equal(res.status, 400);
      assert.match((await res.json()).message, /'params\.logit_bias': token id 999 is outside/);
      res = await app.request("/invocations", post({ inputs: [prompt], params: { best_of: 2 } }));
      assert.equal(res.status, 400, "best_of is a completions field");
      await res.body?.cancel();
    } finally {
      await cleanup();
    }
  },
);

gpuTest(
  "serve app: /v1/* errors in OpenAI's shape, MLflow's elsewhere; /ping and /health open with --auth-token",
  async (gpu) => {
    const { app, authed, loading, cleanup } = await setup(gpu);
    const bearer = { Authorization: `Bearer ${TOKEN}` };
    /** The OpenAI error object of a /v1/* answer with `status`. */
    const openAIError = async (res: Response, status: number) => {
      assert.equal(res.status, status);
      const body = await res.json();
      assert.deepEqual(Object.keys(body), ["error"], JSON.stringify(body));
      assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
      return body.error;
    };
    try {
      // Liveness probes need no credentials; everything else does.
      for (const path of ["/ping", "/health"]) {
        assert.equal((await authed.request(path)).status, 200, path);
        assert.equal((await authed.request(path, { method: "HEAD" })).status, 200, `HEAD ${path}`);
      }
      for (const path of ["/version", "/metrics"]) {
        const res = await authed.request(path);
        assert.equal(res.status, 401, path);
        assert.equal((await res.json()).error_code, "UNAUTHENTICATED", "MLflow's shape off /v1");
        assert.equal((await authed.request(path, { headers: bearer })).status, 200, path);
      }
      let res = await authed.request("/v1/models");
      const unauthenticated = await openAIError(res, 401);
      assert.equal(unauthenticated.type, "authentication_error");
      assert.equal(unauthenticated.code, "UNAUTHENTICATED");
      assert.match(unauthenticated.message, /^Cannot authorize the request/);
      assert.equal(res.headers.get("WWW-Authenticate"), "Bearer");
      assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff", "the guard's headers stay");
      assert.equal((await authed.request("/v1/models", { headers: bearer })).status, 200);

      // Every other /v1/* failure: the guard's, routing's, the loading 503 and the app's own.
      res = await app.request("/v1/completions");
      const notAllowed = await openAIError(res, 405);
      assert.equal(notAllowed.message, "Cannot GET /v1/completions: the route only accepts POST");
      assert.equal(res.headers.get("Allow"), "POST");
      res = await app.request("/invocations");
      assert.equal(res.status, 405);
      assert.deepEqual(await res.json(), { detail: "Method Not Allowed" }, "MLflow's (FastAPI's) 405 stays");
      const notFound = await openAIError(await app.request("/v1/embeddings", post({})), 404);
      assert.equal(notFound.type, "not_found_error");
      assert.equal(notFound.message, "Cannot find POST /v1/embeddings");
      assert.equal((await (await app.request("/nope")).json()).error_code, "ENDPOINT_NOT_FOUND");
      const unavailable = await openAIError(
        await loading.request("/v1/completions", post({ prompt: "a" })),
        503,
      );
      assert.equal(unavailable.type, "unavailable_error");
      const tooLarge = await openAIError(
        await app.request("/v1/completions", post({ prompt: "x".repeat(9000) })),
        413,
      );
      assert.match(tooLarge.message, /larger than the limit of 4096 bytes/);
      const host = await openAIError(
        await app.request("http://evil.example/v1/models", { headers: { Host: "evil.example" } }),
        403,
      );
      assert.equal(host.type, "permission_error");
      const badJson = await openAIError(await app.request("/v1/completions", post("{oops")), 400);
      assert.match(badJson.message, /^Invalid JSON in the request body/);
      assert.equal(badJson.param, null);
      const unknown = await openAIError(
        await app.request("/v1/completions", post({ prompt: "a", beam: 2 })),
        400,
      );
      assert.equal(unknown.param, "beam");
      const context = await openAIError(
        await app.request("/v1/completions", post({ prompt: ["a", "word ".repeat(200)] })),
        400,
      );
      assert.equal(context.param, "prompt[1]");
    } finally {
      await cleanup();
    }
  },
);

/** storyteller_generated_tokens_total of `service`'s metrics. */
function generatedTokens(service: ModelService): number {
  return Number(/^storyteller_generated_tokens_total (\d+)$/m.exec(service.metrics.render())![1]);
}

/** Waits (30 s at most) until `service` has generated tokens beyond `from`. */
async function generationStarted(service: ModelService, from: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (generatedTokens(service) <= from) {
    assert.ok(Date.now() < deadline, "generation started");
    await new Promise((r) => setTimeout(r, 2));
  }
}

gpuTest(
  "serve app: a client that goes away stops its generation, streamed or not, and is counted",
  async (gpu) => {
    const { app, service, cleanup } = await setup(gpu);
    try {
      // 16 sequences × 40 tokens on 4 slots, <|endoftext|> forbidden: 640 tokens if nothing stops them.
      const eot = service.loaded.tokenizer.eotId!;
      const big = {
        prompt: "Once",
        n: 16,
        max_tokens: 40,
        temperature: 1,
        seed: 1,
        logit_bias: { [eot]: -100 },
      };
      const requests: [string, Record<string, unknown>][] = [
        ["/v1/completions", big],
        ["/v1/completions", { ...big, stream: true }],
        ["/invocations", {
          inputs: Array(16).fill("Once"),
          params: { ...big, prompt: undefined, n: undefined },
        }],
      ];
      for (const [i, [path, body]] of requests.entries()) {
        const before = generatedTokens(service);
        const client = new AbortController();
        const answer = app.request(path, { ...post(body), signal: client.signal });
        await generationStarted(service, before);
        const atAbort = generatedTokens(service);
        client.abort();
        const res = await answer;
        await res.body?.cancel().catch(() => {});
        while (service.scheduler.busy) await new Promise((r) => setTimeout(r, 5));
        const after = generatedTokens(service);
        // Tokens already in flight when the client left may land; the 640 − (4 slots × 40) queued never start.
        // At most the chunk each slot had in flight lands after the abort (how many came before it depends on how
        // busy the machine was, so that is not asserted).
        assert.ok(after - atAbort <= 4 * 6, `${path}: ${after - atAbort} tokens after the client left`);
        const metrics = service.metrics.render();
        assert.match(metrics, new RegExp(`^storyteller_cancelled_requests_total ${i + 1}$`, "m"));
      }
      const metrics = service.metrics.render();
      assert.match(metrics, /storyteller_requests_total\{route="\/v1\/completions",status="499"\} 1/);
      assert.match(metrics, /storyteller_requests_total\{route="\/invocations",status="499"\} 1/);
      assert.match(
        metrics,
        /storyteller_requests_total\{route="\/v1\/completions",status="200"\} 1/,
        "the stream",
      );
    } finally {
      await cleanup();
    }
  },
);
