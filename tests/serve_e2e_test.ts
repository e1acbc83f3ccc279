/**
 * Serving end to end: train a tiny tracked model through the CLI, register it, start `storyteller serve` as a
 * subprocess on models:/<name>@<alias> and exercise every route (scoring protocol, completions with streaming,
 * logprobs, echo, presence/frequency penalties, logit_bias and best_of, models, metrics), concurrency and bad
 * input; greedy output through the server equals `storyteller generate`'s.
 */
import assert from "node:assert/strict";
import { gpuTest } from "../src/gpu/testing.ts";
import { run } from "../src/cli/mod.ts";
import { openTracking } from "../src/tracking/mod.ts";

const TINY = new URL("../configs/tiny.yaml", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;

function sets(dir: string): string[] {
  return [
    "model.hidden_size=32",
    "model.num_layers=2",
    "model.num_heads=4",
    "model.num_kv_heads=2",
    "model.intermediate_size=64",
    "model.max_seq_len=48",
    "model.vocab_size=300",
    "data.builtin_stories=300",
    `data.cache_dir=${dir}/cache`,
    "training.batch_size=4",
    "training.max_steps=30",
    "training.learning_rate=0.01",
    "training.warmup_steps=2",
    "training.log_interval=10",
    "training.eval_interval=30",
    "training.eval_steps=1",
    "training.sample_tokens=4",
    `training.checkpoint_dir=${dir}/ckpt`,
    `training.mlflow_tracking_uri=${dir}/mlruns`,
    "training.mlflow_run_name=serve-e2e",
  ].flatMap((s) => ["--set", s]);
}

/** Runs `storyteller <args>` in a subprocess to completion. */
async function cliProcess(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
}

/** Starts `storyteller serve …` and waits for its "ready" line; returns the URL and a stop function. */
async function startServe(...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "-p", "0", ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 120_000;
  while (!/^ready:/m.test(text)) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) {
      const err = await new Response(child.stderr).text();
      throw new Error(`serve did not become ready:\n${text}\n${err}`);
    }
    text += value;
  }
  const url = /listening on (http:\/\/[0-9.:]+)/.exec(text)![1];
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
  };
  return { url, banner: text, stop };
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "Content-Type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

gpuTest("serve e2e: a trained, registered model over every route; greedy equals generate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "serve_e2e_" });
  let server: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    const trained = await run(["train", "-c", TINY, ...sets(dir)]);
    assert.equal(trained, 0);
    const client = openTracking(`${dir}/mlruns`);
    const runs = await client.searchRuns({
      experimentIds: ["0", ...(await client.searchExperiments()).experiments.map((e) => e.experimentId)],
    });
    const runId = runs.runs[0].info.runId;
    await client.createRegisteredModel("story");
    const mv = await client.createModelVersion("story", `runs:/${runId}/model`, { runId });
    await client.setRegisteredModelAlias("story", "champion", mv.version);

    // A model that is not there exits 2 (as any unknown name the user typed) before listening.
    const missing = await cliProcess(
      "serve",
      "-m",
      "models:/nope/1",
      "--tracking-uri",
      `${dir}/mlruns`,
      "-p",
      "0",
    );
    assert.equal(missing.code, 2);
    assert.match(missing.err, /Cannot load the model models:\/nope\/1/);
    assert.doesNotMatch(missing.out, /listening/);
    // The run's URI without the artifact path: the hint names the one that works.
    const runOnly = await cliProcess("generate", "-m", `runs:/${runId}`, "--tracking-uri", `${dir}/mlruns`);
    assert.equal(runOnly.code, 2, runOnly.err);
    assert.match(
      runOnly.err,
      new RegExp(`hint: the model is in its 'model' folder: use -m runs:/${runId}/model`),
    );

    const prompt = "Once upon a time";
    const model = `${dir}/ckpt/serve-e2e/model`;
    /** The story `generate` writes from `prompt` with `flags` (the model among them). */
    const story = async (...flags: string[]) => {
      const r = await cliProcess("generate", "--prompt", prompt, ...flags);
      assert.equal(r.code, 0, r.err);
      assert.ok(r.out.startsWith(prompt));
      return r.out.slice(prompt.length).replace(/\n$/, "");
    };
    /** The story `generate` writes greedily (20 tokens) from the trained model with `flags`. */
    const greedyStory = (...flags: string[]) =>
      story("-m", model, "--temperature", "0", "--max-tokens", "20", ...flags);
    const generated = await story(
      ...["-m", `runs:/${runId}/model`, "--tracking-uri", `${dir}/mlruns`],
      ...["--temperature", "0", "--max-tokens", "20"],
    );
    assert.ok(generated.length > 0);
    // Sampled with a seed: the same story from generate and from the server (a 30-step model is livelier sampled).
    const sampledStory = await story(
      ...["-m", model, "--temperature", "0.9", "--top-k", "40", "--top-p", "0.95", "--seed", "5"],
      ...["--max-tokens", "24"],
    );
    assert.ok(new Set(sampledStory).size >= 4, `a varied sample: ${JSON.stringify(sampledStory)}`);
    // Greedy with a repetition penalty: generate and the server agree too.
    const penalizedStory = await greedyStory("--repetition-penalty", "1.5");
    const badPenalty = await cliProcess("generate", "-m", model, "--repetition-penalty", "0");
    assert.equal(badPenalty.code, 2);
    assert.match(
      badPenalty.err,
      /Cannot parse --repetition-penalty: expected a number from 0\.001 to 10, got '0'/,
    );

    server = await startServe(
      "-m",
      "models:/story@champion",
      "--tracking-uri",
      `${dir}/mlruns`,
      "--max-batch",
      "8",
      "--chunk",
      "8",
      "--auth-token",
      "e2e-token-0123456789abcdef",
      "--request-timeout",
      "120",
    );
    assert.match(server.banner, /batch ≤ 8 sequences, KV cache/);
    assert.match(server.banner, /requests time out after 120 s/);
    const url = server.url;
    const auth = { Authorization: "Bearer e2e-token-0123456789abcdef" };
    const get = (path: string) => fetch(url + path, { headers: auth });
    const post = (path: string, body: unknown) => fetch(url + path, json(body, auth));

    let res = await get("/ping");
    assert.equal(res.status, 200);
    await res.body?.cancel();
    res = await get("/health");
    assert.equal(res.status, 200);
    await res.body?.cancel();
    res = await get("/version");
    assert.match(await res.text(), /^\d+\.\d+/);
    res = await fetch(url + "/invocations", json({ inputs: [prompt] }));
    assert.equal(res.status, 401, "bearer token required");
    await res.body?.cancel();
    // The liveness probes are open; everything else needs the token, /v1/* answering in OpenAI's shape.
    for (
      const [path, status] of [["/ping", 200], ["/health", 200], ["/version", 401], [
        "/metrics",
        401,
      ]] as const
    ) {
      res = await fetch(url + path);
      assert.equal(res.status, status, path);
      await res.body?.cancel();
    }
    res = await fetch(url + "/v1/completions", json({ prompt }));
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.type, "authentication_error");

    // Greedy through the server equals generate's story, on both APIs.
    res = await post("/invocations", { inputs: [prompt], params: { temperature: 0, max_tokens: 20 } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { predictions: [generated] });
    res = await post("/v1/completions", { prompt, temperature: 0, max_tokens: 20 });
    const completion = await res.json();
    assert.equal(completion.choices[0].text, generated);
    res = await post("/v1/completions", { prompt, temperature: 0, max_tokens: 20, repetition_penalty: 1.5 });
    assert.equal((await res.json()).choices[0].text, penalizedStory);
    assert.equal(
      completion.usage.completion_tokens + completion.usage.prompt_tokens,
      completion.usage.total_tokens,
    );

    res = await post("/v1/completions", {
      prompt,
      temperature: 0.9,
      top_k: 40,
      top_p: 0.95,
      seed: 5,
      max_tokens: 24,
    });
    assert.equal((await res.json()).choices[0].text, sampledStory);

    // Streaming: deltas add up to the same text, then [DONE].
    res = await post("/v1/completions", { prompt, temperature: 0, max_tokens: 20, stream: true });
    const lines = (await res.text()).split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
    assert.equal(lines.at(-1), "[DONE]");
    const streamed = lines.slice(0, -1).map((l) => JSON.parse(l)).flatMap((c) =>
      c.choices.map((x: { text: string }) => x.text)
    );
    assert.equal(streamed.join(""), generated);

    // logprobs: OpenAI's legacy object; the trained model writes ASCII, so the tokens spell the text.
    const greedy = { prompt, temperature: 0, max_tokens: 20 };
    const scored = await (await post("/v1/completions", { ...greedy, logprobs: 3 })).json();
    const lp = scored.choices[0].logprobs;
    assert.equal(scored.choices[0].text, generated);
    assert.equal(lp.tokens.join(""), generated);
    assert.equal(lp.tokens.length, scored.usage.completion_tokens);
    let offset = prompt.length;
    lp.tokens.forEach((token: string, i: number) => {
      assert.equal(lp.text_offset[i], offset, `offset of token ${i}`);
      offset += token.length;
      const top = lp.top_logprobs[i];
      assert.equal(top[token], lp.token_logprobs[i]);
      assert.equal(
        Math.max(...Object.values(top) as number[]),
        lp.token_logprobs[i],
        "greedy takes the best",
      );
      assert.ok(Object.keys(top).length === 3 && lp.token_logprobs[i] <= 0);
    });
    // echo with logprobs: the prompt's tokens first (the first without a logprob), then the same entries.
    const echoed = await (await post("/v1/completions", { ...greedy, logprobs: 3, echo: true })).json();
    const e = echoed.choices[0].logprobs;
    const P = echoed.usage.prompt_tokens;
    assert.equal(echoed.choices[0].text, prompt + generated);
    assert.equal(e.tokens.slice(0, P).join(""), prompt);
    assert.deepEqual([e.token_logprobs[0], e.top_logprobs[0], e.text_offset[0]], [null, null, 0]);
    assert.ok(e.token_logprobs.slice(1, P).every((x: number) => x < 0));
    assert.deepEqual(e.tokens.slice(P), lp.tokens);
    assert.deepEqual(e.token_logprobs.slice(P), lp.token_logprobs);
    // Streamed: each chunk's entries are its text's tokens, the prompt in a chunk of its own.
    res = await post("/v1/completions", { ...greedy, logprobs: 3, echo: true, stream: true });
    const chunks = (await res.text()).split("\n").filter((l) => l.startsWith("data: {"))
      .map((l) => JSON.parse(l.slice(6)).choices[0]);
    assert.equal(chunks[0].text, prompt);
    for (const ch of chunks) assert.equal(ch.logprobs.tokens.join(""), ch.text);
    assert.deepEqual(chunks.flatMap((ch) => ch.logprobs.token_logprobs), e.token_logprobs);

    // Presence and frequency penalties: each greedy pick beats the top alternatives once their penalties are
    // taken off the raw logprobs; the scoring protocol takes them too.
    const penalties = { presence_penalty: 1.5, frequency_penalty: 0.5, repetition_penalty: 1 };
    const pen = await (await post("/v1/completions", { ...greedy, ...penalties, logprobs: 5 })).json();
    const pl = pen.choices[0].logprobs;
    assert.notEqual(pen.choices[0].text, generated, "the penalties change the story");
    const counts = new Map<string, number>();
    pl.tokens.forEach((token: string, i: number) => {
      const score = (t: string) => {
        const c = counts.get(t) ?? 0;
        return pl.top_logprobs[i][t] -
          (c > 0 ? penalties.presence_penalty + penalties.frequency_penalty * c : 0);
      };
      for (const alt of Object.keys(pl.top_logprobs[i])) {
        assert.ok(score(token) >= score(alt) - 1e-4, `token ${i}: ${token} (${score(token)}) vs ${alt}`);
      }
      counts.set(token, (counts.get(token) ?? 0) + 1);
    });
    res = await post("/invocations", {
      inputs: [prompt],
      params: { temperature: 0, max_tokens: 20, ...penalties },
    });
    assert.deepEqual(await res.json(), { predictions: [pen.choices[0].text] });
    assert.equal(
      await greedyStory("--presence-penalty", "1.5", "--frequency-penalty", "0.5"),
      pen.choices[0].text,
    );

    // logit_bias: +100 on one id writes it at every step, as `generate --logit-bias` does.
    const biased =
      await (await post("/v1/completions", { ...greedy, logprobs: 0, logit_bias: { "270": 100 } }))
        .json();
    const bt = biased.choices[0].logprobs.tokens;
    assert.ok(bt.length === 20 && bt.every((t: string) => t === bt[0]), `one token 20 times: ${bt}`);
    assert.equal(biased.choices[0].text, bt.join(""));
    assert.equal(await greedyStory("--logit-bias", "270=100"), biased.choices[0].text);

    // best_of: the best mean logprob among the candidates that n (same seeds) returns; usage counts them all.
    const tokenizer = JSON.parse(await Deno.readTextFile(`${model}/tokenizer.json`));
    const eot = tokenizer.added_tokens.find((t: { content: string }) => t.content === "<|endoftext|>").id;
    const candidates = {
      prompt,
      temperature: 1.2,
      seed: 9,
      max_tokens: 8,
      logprobs: 0,
      logit_bias: { [eot]: -100 },
    };
    const all = await (await post("/v1/completions", { ...candidates, n: 3 })).json();
    const best = await (await post("/v1/completions", { ...candidates, best_of: 3 })).json();
    type Choice = { index: number; logprobs: { token_logprobs: number[] } };
    const mean = (c: Choice) =>
      c.logprobs.token_logprobs.reduce((a, x) => a + x, 0) / c.logprobs.token_logprobs.length;
    const top = (all.choices as Choice[]).reduce((a, c) => (mean(c) > mean(a) ? c : a));
    assert.deepEqual(best.choices, [{ ...top, index: 0 }]);
    assert.deepEqual(best.usage, all.usage);

    // Concurrency: 16 seeded requests at once (8 slots: some wait in the queue) each get their solo answer.
    const prompts = Array.from(
      { length: 16 },
      (_, i) => ["Once upon a time", "The cat", "One day", "Tom"][i % 4],
    );
    const body = (i: number) => ({
      prompt: prompts[i],
      temperature: 1,
      seed: 100 + i,
      max_tokens: 6 + (i % 5) * 4,
    });
    const textOf = async (r: Response) => (await r.json()).choices[0].text as string;
    const solo: string[] = [];
    for (let i = 0; i < prompts.length; i++) solo.push(await textOf(await post("/v1/completions", body(i))));
    const together = await Promise.all(
      prompts.map(async (_, i) => textOf(await post("/v1/completions", body(i)))),
    );
    assert.deepEqual(together, solo);
    assert.ok(new Set(solo).size > 8, "different seeds, different stories");
    const sampled = { prompt, temperature: 1, top_k: 20, top_p: 0.9, seed: 3, max_tokens: 10, n: 3 };
    const [s1, s2] = await Promise.all([post("/v1/completions", sampled), post("/v1/completions", sampled)]);
    assert.deepEqual(
      (await s1.json()).choices,
      (await s2.json()).choices,
      "seeded sampling is reproducible under load",
    );

    // Bad input.
    for (
      const [path, body, status] of [
        ["/invocations", "{oops", 400],
        ["/invocations", { inputs: [prompt], params: { max_tokens: -1 } }, 400],
        ["/invocations", { inputs: [prompt], dataframe_records: [] }, 400],
        ["/v1/completions", { prompt, max_tokens: 10_000_000 }, 400],
        ["/v1/completions", { prompt, temperature: "warm" }, 400],
        ["/v1/completions", { prompt, mystery: true }, 400],
        ["/v1/completions", { prompt, logprobs: 9 }, 400],
        ["/v1/completions", { prompt, echo: "yes" }, 400],
        ["/v1/completions", { prompt, presence_penalty: 5 }, 400],
        ["/v1/completions", { prompt, logit_bias: { "300": 1 } }, 400],
        ["/v1/completions", { prompt, best_of: 2, stream: true }, 400],
        ["/v1/completions", { prompt: "x".repeat(2 << 20) }, 413],
      ] as const
    ) {
      res = await post(path, body);
      assert.equal(res.status, status, `${path} ${JSON.stringify(body).slice(0, 50)}`);
      await res.body?.cancel();
    }

    res = await get("/v1/models");
    assert.equal((await res.json()).data[0].id, "story");
    const metrics = await (await get("/metrics")).text();
    assert.match(metrics, /storyteller_generated_tokens_total \d{3,}/);
    assert.match(metrics, /storyteller_requests_total\{route="\/invocations",status="400"\} 3/);
    assert.match(metrics, /storyteller_tokens_per_second \d/);
  } finally {
    await server?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
