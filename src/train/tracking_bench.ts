/**
 * Tracking overhead of one run, without a GPU: RunTracker start (params, tags, dataset inputs), 1000 log points
 * and 100 evaluations queued, finish (a 10 MiB model, config, samples; FINISHED), against a file store and the
 * real server over REST.
 * Run: deno run -A src/train/tracking_bench.ts
 */
import { loadConfig } from "../config/mod.ts";
import { RunTracker } from "./tracking.ts";
import { createServerApp, listen } from "../server/mod.ts";
import type { Gpu } from "../gpu/mod.ts";
import type { PreparedData } from "../data/mod.ts";

async function once(kind: "file" | "rest") {
  const dir = await Deno.makeTempDir();
  let server: { url: string; shutdown(): Promise<void> } | undefined;
  if (kind === "rest") {
    server = listen(createServerApp({ backendStoreUri: `${dir}/srv`, artifactsDestination: `${dir}/art` }), {
      host: "127.0.0.1",
      port: 0,
      authEnabled: false,
      name: "tracking server",
      warn: () => {},
    });
  }
  const { config } = await loadConfig("tiny", [
    `training.checkpoint_dir=${dir}/ckpt`,
    `training.mlflow_tracking_uri=${server?.url ?? dir + "/mlruns"}`,
  ]);
  const modelDir = `${dir}/ckpt/b/model`;
  await Deno.mkdir(modelDir, { recursive: true });
  await Deno.writeFile(`${modelDir}/model.safetensors`, new Uint8Array(10 * 2 ** 20));
  for (const f of ["config.json", "tokenizer.json", "generation_config.json"]) {
    await Deno.writeTextFile(`${modelDir}/${f}`, "{}");
  }
  const tracker = new RunTracker(config, { info: () => {}, warn: console.error });
  const info = {
    runName: "b",
    ckptDir: `${dir}/ckpt/b`,
    startStep: 0,
    paramCount: 1,
    gpu: { summary: { description: "x", isFallback: true }, hasF16: false } as unknown as Gpu,
    data: {
      stats: {
        sources: "x",
        datasets: {
          training: { name: "x", digest: "0a1b2c3d", sources: [], holdOut: 0, docs: 1, tokens: 1 },
          validation: null,
        },
      },
      tokenizer: { vocabSize: 1 },
    } as unknown as PreparedData,
  };
  const t0 = performance.now();
  await tracker.start(info);
  const t1 = performance.now();
  for (let s = 1; s <= 1000; s++) {
    tracker.logPoint({ step: s, loss: 1 / s, lr: 1e-3, gradNorm: 1, tokensPerSec: 1000 });
    if (s % 10 === 0) tracker.evalPoint({ step: s, loss: 1, perplexity: 2.7, sample: "Once upon a time" });
  }
  const t2 = performance.now();
  await tracker.finish({ runName: "b", steps: 1000, interrupted: false, modelDir });
  const t3 = performance.now();
  await server?.shutdown();
  await Deno.remove(dir, { recursive: true });
  return [t1 - t0, t2 - t1, t3 - t2];
}
if (import.meta.main) {
  for (const kind of ["file", "rest"] as const) {
    await once(kind); // warm-up
    const r: number[][] = [];
    for (let i = 0; i < 3; i++) r.push(await once(kind));
    const med = (k: number) => r.map((x) => x[k]).sort((a, b) => a - b)[1].toFixed(1);
    console.log(
      `${kind}: start ${med(0)} ms, 1000 log + 100 eval points queued ${med(1)} ms, finish ${med(2)} ms`,
    );
  }
}
