/**
 * Serving benchmark: single-stream time to first token and decode tokens/s, then aggregate tokens/s with many
 * concurrent streams through the continuous batcher (in process, no HTTP), on a random-weight model of a config's
 * shape (default the tiny config). Fixed-length generations (no stop ids) so every run does the same work. Each
 * line also gives the latency a streaming client sees: time to first token and inter-token latency (the gap
 * between a stream's successive tokens as the scheduler hands them out), p50 and p95 over every stream of the
 * best run.
 *
 *   deno run -A tools/bench_serve.ts [--config tiny] [--prompt 8] [--tokens 48] [--streams 1,8,32,128] [--chunk 16]
 *     [--target-chunk-ms 100] [--device auto] [--greedy] [--repetition-penalty 1] [--presence-penalty 0]
 *     [--frequency-penalty 0] [--logprobs N] [--echo] [--logit-bias N]
 *
 * --target-chunk-ms is the server's adaptive chunking (0: always --chunk steps per readback); --logprobs N asks
 * every stream for logprob records with N top entries (absent: none); --echo also scores the prompt (echo with
 * logprobs); --logit-bias N gives every stream a logit bias of N distinct ids (small biases).
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/mod.ts";
import { openGpu } from "../src/gpu/mod.ts";
import { buildLayout } from "../src/model/layout.ts";
import { initParams } from "../src/model/init.ts";
import { emptyStats, type GenerationRequest, InferenceEngine, Scheduler } from "../src/serve/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    config: { type: "string", default: "tiny" },
    prompt: { type: "string", default: "8" },
    tokens: { type: "string", default: "48" },
    streams: { type: "string", default: "1,8,32,128" },
    chunk: { type: "string", default: "16" },
    "target-chunk-ms": { type: "string", default: "100" },
    device: { type: "string", default: "auto" },
    repeat: { type: "string", default: "2" },
    greedy: { type: "boolean", default: false },
    "repetition-penalty": { type: "string", default: "1" },
    "presence-penalty": { type: "string", default: "0" },
    "frequency-penalty": { type: "string", default: "0" },
    logprobs: { type: "string" },
    echo: { type: "boolean", default: false },
    "logit-bias": { type: "string", default: "0" },
  },
});

const { config } = await loadConfig(values.config);
const m = config.model;
const P = Number(values.prompt);
const N = Math.min(Number(values.tokens), m.max_seq_len - P);
const chunk = Number(values.chunk);
const streams = values.streams.split(",").map(Number);
const biasIds = Number(values["logit-bias"]);
const gpu = await openGpu(values.device as "auto");
const layout = buildLayout(m);
const engine = new InferenceEngine(gpu, m, initParams(layout, 1), {
  slots: Math.max(...streams),
  context: m.max_seq_len,
  prefillRows: Math.max(m.max_seq_len, P * Math.max(...streams)),
  maxChunk: chunk,
});
const targetChunkMs = Number(values["target-chunk-ms"]);
const scheduler = new Scheduler(engine, { chunk, targetChunkMs });
/** The p-th percentile (0–100) of `xs`, nearest rank. */
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
};
const request = (i: number): GenerationRequest => ({
  prompt: Array.from({ length: P }, (_, t) => (i * 31 + t * 7) % m.vocab_size),
  maxTokens: N,
  temperature: values.greedy ? 0 : 0.8,
  topK: 50,
  topP: 0.95,
  seed: i,
  repetitionPenalty: Number(values["repetition-penalty"]),
  presencePenalty: Number(values["presence-penalty"]),
  frequencyPenalty: Number(values["frequency-penalty"]),
  logprobs: values.logprobs === undefined ? undefined : Number(values.logprobs),
  scorePrompt: values.echo,
  logitBias: Array.from(
    { length: biasIds },
    (_, j) => [(i * 13 + j * 7) % m.vocab_size, ((j % 5) - 2) * 0.5],
  ),
  stopIds: [],
});

console.log(
  `bench_serve: ${values.config} (V ${m.vocab_size}, C ${m.hidden_size}, L ${m.num_layers}, T ${m.max_seq_len}, ` +
    `${layout.count.toLocaleString("en-US")} params), ${
      values.greedy ? "greedy" : "T 0.8, top-k 50, top-p 0.95"
    }, penalties repetition ${values["repetition-penalty"]} presence ${
      values["presence-penalty"]
    } frequency ${values["frequency-penalty"]}, logprobs ${values.logprobs ?? "off"}${
      values.echo ? " (prompt scored)" : ""
    }, logit bias ${biasIds} ids, prompt ${P}, ${N} new tokens, ` +
    `chunk ${chunk}${targetChunkMs > 0 ? ` (adaptive, target ${targetChunkMs} ms)` : " (fixed)"}, ` +
    `${gpu.summary.description || gpu.summary.device}`,
);
await scheduler.submit(request(0)); // warm-up: pipelines
for (const S of streams) {
  let best: { wall: number; ttft: number; decodeRate: number; cpu: string; latency: string } | undefined;
  for (let r = 0; r < Number(values.repeat); r++) {
    engine.stats = emptyStats();
    const t0 = performance.now();
    const done: number[] = [];
    const firsts: number[] = [];
    const gaps: number[] = [];
    const results = await Promise.all(
      Array.from({ length: S }, (_, i) => {
        let last = -1;
        return scheduler.submit({
          ...request(i + 1),
          onToken: () => {
            const now = performance.now();
            if (last < 0) firsts.push(now - t0);
            else gaps.push(now - last);
            last = now;
          },
        }).then((res) => {
          done.push(performance.now() - t0);
          return res;
        });
      }),
    );
    const ms = (x: number) => x.toFixed(x < 10 ? 1 : 0);
    const latency = `TTFT p50 ${ms(percentile(firsts, 50))} / p95 ${ms(percentile(firsts, 95))} ms, ` +
      `inter-token p50 ${ms(percentile(gaps, 50))} / p95 ${ms(percentile(gaps, 95))} ms, ` +
      `${(engine.stats.steps / engine.stats.chunks).toFixed(1)} steps per chunk`;
    const wall = (performance.now() - t0) / 1000;
    const ttft = results.reduce((a, x) => a + x.ttftMs, 0) / S;
    const decodeRate = S === 1 ? (N - 1) / (wall - results[0].ttftMs / 1000) : 0;
    const st = engine.stats;
    const cpu = `decode CPU ${(st.chunkRecordMs / st.steps).toFixed(3)} ms/step recording ` +
      `(${(st.chunkRecordMs / st.chunks).toFixed(2)} ms/chunk, ${
        (st.chunkDispatches / st.steps).toFixed(0)
      } ` +
      `dispatches/step), submit ${(st.chunkSubmitMs / st.steps).toFixed(2)} ms/step; prefill recording ` +
      `${(st.prefillRecordMs / st.prefills).toFixed(2)} ms/pass`;
    if (!best || wall < best.wall) best = { wall, ttft, decodeRate, cpu, latency };
  }
  const b = best!;
  const total = S * N;
  console.log(
    `streams ${String(S).padStart(2)}: ${(total / b.wall).toFixed(1).padStart(7)} tok/s aggregate, ` +
      `${(N / b.wall).toFixed(1).padStart(6)} tok/s per stream, mean TTFT ${b.ttft.toFixed(0)} ms` +
      (S === 1 ? `, decode after the first token ${b.decodeRate.toFixed(1)} tok/s` : "") +
      `  (${total} tokens in ${b.wall.toFixed(2)} s)\n            ${b.latency}\n            ${b.cpu}`,
  );
}
scheduler.close();
engine.destroy();
gpu.device.destroy();
