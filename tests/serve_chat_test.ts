/**
 * The model server as vLLM and llama.cpp users drive it, over a live socket and mostly through the official
 * `openai` client: chat completions (the story-opening default and a model's own chat template; streamed and not,
 * n, stop, logprobs), token-id prompts, served model names (`GET /v1/models/{id}`, a 404 for another `model`),
 * prompt scoring with `max_tokens: 0`, bodies that are not UTF-8 or too large, the first token of a stream sent
 * alone, and generation past the context window.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { gpuTest } from "../src/gpu/testing.ts";
import type { ServiceOptions } from "../src/serve/mod.ts";
import { rejection, startLiveServer } from "./_live_serve.ts";
import { writeRandomModel } from "../src/serve/testing.ts";
import type { Gpu } from "../src/gpu/mod.ts";

/** A live model server for the model in `dir` (aliases "tale"), with service options and a body limit. */
function startServer(gpu: Gpu, dir: string, service: Partial<ServiceOptions> = {}, maxBodyBytes?: number) {
  return startLiveServer(gpu, dir, { service, maxBodyBytes, modelAliases: ["tale"] });
}

gpuTest(
  "openai SDK chat: the story opening, streams, n, stop, logprobs; a model's chat template",
  async (gpu) => {
    const dir = await Deno.makeTempDir({ prefix: "serve_chat_" });
    await writeRandomModel(`${dir}/model`, { seed: 4 });
    const live = await startServer(gpu, `${dir}/model`);
    try {
      const { client, service } = live;
      const messages = [
        { role: "system" as const, content: "You are a storyteller." },
        { role: "user" as const, content: "Once upon a time" },
        { role: "assistant" as const, content: " there was a fox. " },
        { role: "user" as const, content: "The fox" },
      ];
      const greedy = { model: "story", messages, max_tokens: 10, temperature: 0 };
      const opening = "Once upon a time there was a fox. The fox";
      const want = await service.complete(opening, { maxTokens: 10, temperature: 0 });
      const done = await client.chat.completions.create(greedy);
      assert.equal(done.object, "chat.completion");
      assert.match(done.id, /^chatcmpl-/);
      assert.equal(done.model, "story");
      assert.equal(done.choices[0].message.role, "assistant");
      assert.equal(done.choices[0].message.content, want.text, "the conversation is the story opening");
      assert.equal(done.choices[0].finish_reason, want.finishReason);
      assert.equal(done.usage?.prompt_tokens, service.encode(opening).length);
      assert.equal(done.usage?.completion_tokens, want.completionTokens);

      // Streamed: a role delta, then content deltas that add up to the same text, one finish, [DONE].
      const stream = await client.chat.completions.create({
        ...greedy,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      const roles: string[] = [];
      const finishes: string[] = [];
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        assert.equal(chunk.object, "chat.completion.chunk");
        if (chunk.usage) usage = chunk.usage;
        for (const c of chunk.choices) {
          if (c.delta.role) roles.push(c.delta.role);
          text += c.delta.content ?? "";
          if (c.finish_reason) finishes.push(c.finish_reason);
        }
      }
      assert.deepEqual(roles, ["assistant"]);
      assert.equal(text, want.text);
      assert.equal(finishes.length, 1);
      assert.equal(usage?.completion_tokens, want.completionTokens);

      // n, seeded: two choices; stop cuts the text; logprobs in chat's shape with top_logprobs alternatives.
      const many = await client.chat.completions.create({
        model: "tale",
        messages,
        max_tokens: 8,
        temperature: 1,
        seed: 3,
        n: 2,
        logprobs: true,
        top_logprobs: 2,
      });
      assert.equal(many.model, "story", "an alias answers with the served name");
      assert.equal(many.choices.length, 2);
      for (const c of many.choices) {
        const content = c.logprobs?.content ?? [];
        assert.equal(content.map((e) => e.token).join(""), c.message.content);
        for (const e of content) {
          assert.ok(e.logprob <= 0);
          assert.equal(e.top_logprobs.length, 2);
          assert.equal(new TextDecoder().decode(Uint8Array.from(e.bytes ?? [])), e.token);
        }
      }
      const cut = want.text.slice(2, 4);
      if (cut.length === 2) {
        const stopped = await client.chat.completions.create({ ...greedy, stop: [cut] });
        assert.equal(stopped.choices[0].message.content, want.text.slice(0, want.text.indexOf(cut)));
        assert.equal(stopped.choices[0].finish_reason, "stop");
      }
      const streamedLogprobs: string[] = [];
      for await (
        const chunk of await client.chat.completions.create({ ...greedy, stream: true, logprobs: true })
      ) {
        for (const c of chunk.choices) {
          streamedLogprobs.push(
            ...(c.logprobs?.content ?? []).map((e) => e.token),
          );
        }
      }
      assert.equal(streamedLogprobs.join(""), want.text);

      // Errors reach the client as APIErrors with our message and the field.
      let err = await rejection(() => client.chat.completions.create({ model: "story", messages: [] }));
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.match(err.message, /Invalid value for 'messages'/);
      err = await rejection(() =>
        client.chat.completions.create({ ...greedy, top_logprobs: 9, logprobs: true })
      );
      assert.ok(err instanceof OpenAI.BadRequestError && err.param === "top_logprobs", String(err));
      err = await rejection(() => client.chat.completions.create({ ...greedy, model: "gpt-4o" }));
      assert.ok(err instanceof OpenAI.NotFoundError, String(err));
      assert.match(err.message, /^404 The model 'gpt-4o' does not exist: this server serves 'story'/);
      assert.equal(err.code, "model_not_found");
    } finally {
      await live.stop();
    }

    // A model whose tokenizer_config.json has a chat template: the template makes the prompt.
    await Deno.writeTextFile(
      `${dir}/model/tokenizer_config.json`,
      JSON.stringify({
        eos_token: "<|endoftext|>",
        chat_template: "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}" +
          "{% if add_generation_prompt %}assistant:{% endif %}",
      }),
    );
    const templated = await startServer(gpu, `${dir}/model`);
    try {
      const { client, service } = templated;
      assert.equal(service.loaded.chat.source, "tokenizer_config.json");
      const prompt = "user: The fox\nassistant:";
      const want = await service.complete(prompt, { maxTokens: 6, temperature: 0 });
      const done = await client.chat.completions.create({
        model: "story",
        messages: [{ role: "user", content: "The fox" }],
        max_completion_tokens: 6,
        temperature: 0,
      });
      assert.equal(done.choices[0].message.content, want.text);
      assert.equal(done.usage?.prompt_tokens, service.encode(prompt).length);
    } finally {
      await templated.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest(
  "serve: token-id prompts, served names, max_tokens 0 scoring, UTF-8 and size checks, the first token alone, " +
    "generation past the context",
  async (gpu) => {
    const dir = await Deno.makeTempDir({ prefix: "serve_vllm_" });
    await writeRandomModel(`${dir}/model`, { seed: 4 });
    const live = await startServer(gpu, `${dir}/model`, {}, 1 << 20);
    try {
      const { client, service, url } = live;
      const tok = service.loaded.tokenizer;
      const greedy = { model: "story", max_tokens: 8, temperature: 0 };

      // Token ids as the prompt: the same completion as their text; a list of lists is several prompts.
      const ids = service.encode("The fox");
      const byText = await client.completions.create({ ...greedy, prompt: "The fox" });
      const byIds = await client.completions.create({ ...greedy, prompt: ids, echo: true });
      assert.equal(byIds.choices[0].text, tok.decode(ids) + byText.choices[0].text);
      const two = await client.completions.create({ ...greedy, prompt: [ids, service.encode("Once")] });
      assert.equal(two.choices.length, 2);
      assert.equal(two.choices[0].text, byText.choices[0].text);
      let err = await rejection(() => client.completions.create({ ...greedy, prompt: [1, 2, 99999] }));
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.match(
        err.message,
        /Invalid value for 'prompt\[2\]': 99999 is not a token id \(integers 0 to 299/,
      );
      err = await rejection(() => client.completions.create({ ...greedy, prompt: [[]] }));
      assert.match(String(err), /an empty list of token ids/);

      // Served names: listed, fetched by id, another model value is a 404 in OpenAI's shape.
      assert.deepEqual((await client.models.list()).data.map((m) => m.id), ["story", "tale"]);
      assert.equal((await client.models.retrieve("tale")).id, "tale");
      err = await rejection(() => client.models.retrieve("gpt-4o"));
      assert.ok(err instanceof OpenAI.NotFoundError, String(err));
      assert.equal(err.code, "model_not_found");
      err = await rejection(() =>
        client.completions.create({ ...greedy, prompt: "x", model: "davinci-002" })
      );
      assert.ok(err instanceof OpenAI.NotFoundError && err.param === "model", String(err));

      // max_tokens 0 with echo and logprobs scores the prompt: one entry per prompt token, nothing generated.
      const scored = await client.completions.create({
        model: "story",
        prompt: "Once upon a time",
        max_tokens: 0,
        echo: true,
        logprobs: 2,
      });
      const c0 = scored.choices[0];
      assert.equal(c0.text, "Once upon a time");
      assert.equal(c0.finish_reason, "length");
      const promptIds = service.encode("Once upon a time");
      assert.equal(c0.logprobs?.tokens?.length, promptIds.length);
      assert.equal(c0.logprobs?.token_logprobs?.[0], null);
      assert.ok(c0.logprobs?.token_logprobs?.slice(1).every((x) => typeof x === "number" && x <= 0));
      assert.equal(scored.usage?.completion_tokens, 0);
      const plain = await client.completions.create({ model: "story", prompt: "Once", max_tokens: 0 });
      assert.equal(plain.choices[0].text, "");

      // Bodies: invalid UTF-8 is a 400 that names the byte; 10 MB, declared or chunked, is a 413.
      const bytes = new Uint8Array([
        ...new TextEncoder().encode('{"prompt": "The f'),
        0xff,
        ...new TextEncoder().encode('x"}'),
      ]);
      let res = await fetch(`${url}/v1/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: bytes,
      });
      assert.equal(res.status, 400);
      assert.match((await res.json()).error.message, /byte 17 \(0xff\) is not valid UTF-8/);
      res = await fetch(`${url}/invocations`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: bytes,
      });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error_code, "BAD_REQUEST");
      const big = new Uint8Array(10 << 20).fill(0x20);
      for (const chunked of [false, true]) {
        const body = chunked
          ? new ReadableStream<Uint8Array>({
            start(ctl) {
              for (let i = 0; i < 10; i++) ctl.enqueue(big.subarray(i << 20, (i + 1) << 20));
              ctl.close();
            },
          })
          : big;
        res = await fetch(`${url}/v1/completions`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body,
        });
        assert.equal(res.status, 413, `chunked: ${chunked}`);
        assert.match((await res.json()).error.message, /larger than the limit of 1048576 bytes/);
      }

      // The first token of a request comes alone, from its prefill's readback, before any decode chunk runs.
      const chunksBefore = service.engine.stats.chunks;
      const chunksAt: number[] = [];
      await service.scheduler.submit({
        prompt: ids,
        maxTokens: 12,
        temperature: 0,
        topK: 0,
        topP: 1,
        seed: 1,
        stopIds: [],
        onToken: () => void chunksAt.push(service.engine.stats.chunks - chunksBefore),
      });
      assert.equal(chunksAt.length, 12);
      assert.equal(chunksAt[0], 0, `decode chunks run before each token: ${chunksAt}`);
      assert.ok(chunksAt[1] >= 1);
    } finally {
      await live.stop();
    }

    // Past the context (64 positions): the window slides and generation goes on; without sliding it stops there.
    const sliding = await startServer(gpu, `${dir}/model`);
    const capped = await startServer(gpu, `${dir}/model`, { slide: false });
    try {
      const eot = String(sliding.service.loaded.tokenizer.eotId);
      const long = {
        model: "story",
        prompt: "Once",
        max_tokens: 150,
        temperature: 1,
        seed: 1,
        logit_bias: { [eot]: -100 },
      };
      const slid = await sliding.client.completions.create(long);
      assert.equal(slid.usage?.completion_tokens, 150);
      assert.equal(slid.choices[0].finish_reason, "length");
      const stopped = await capped.client.completions.create(long);
      const promptTokens = stopped.usage!.prompt_tokens;
      assert.equal(stopped.usage?.completion_tokens, 64 - promptTokens);
      // Up to the first slide both see the same context, so they agree on those tokens.
      const head = (s: string) => s.slice(0, 20);
      assert.equal(head(slid.choices[0].text), head(stopped.choices[0].text));
      // Streamed, the tokens keep coming across the slides.
      let streamed = "";
      for await (const chunk of await sliding.client.completions.create({ ...long, stream: true })) {
        streamed += chunk.choices[0]?.text ?? "";
      }
      assert.equal(streamed, slid.choices[0].text);
    } finally {
      await sliding.stop();
      await capped.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
