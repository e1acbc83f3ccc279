/**
 * Tracking-server load test (loopback only, bounded): seeds N runs via the FileStore (every other one with a
 * training and a validation dataset input, drawn from 4 pairs), starts `storyteller server` as a subprocess on port
 * 0, then hammers it from C concurrent fetch loops for D seconds per phase: (1) `runs/search` with a metric filter
 * and order over all runs, (2) the same with a `dataset.*` filter, (3) `runs/log-batch` (each loop its own run), and
 * finally checks that every logged point is in the store. Prints p50/p95/p99 latency, throughput and errors.
 * Usage: deno run -A tools/bench_server.ts [--runs 10000] [--concurrency 50] [--duration 30] [--batch 20]
 */
import { join } from "node:path";
import { FileStore } from "../src/tracking/mod.ts";
import { datasetInput } from "./_bench_store.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i < 0 ? dflt : Number(Deno.args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`Cannot parse --${name}: expected a positive number`);
  return v;
}
const nRuns = arg("runs", 10000), conc = arg("concurrency", 50), seconds = Math.min(arg("duration", 30), 120);
const batch = arg("batch", 20);

const PAIRS = Array.from({ length: 4 }, (_, k) => [
  datasetInput(`stories-${k}`, `5eed000${k}`, "training"),
  datasetInput(`stories-${k}-val`, `5eed100${k}`, "validation"),
]);

const dir = Deno.makeTempDirSync({ prefix: "st-bench-server-" });
const root = join(dir, "mlruns");
const store = new FileStore(root);
const expId = await store.createExperiment("bench");
let t0 = performance.now();
for (let i = 0; i < nRuns; i++) {
  const r = await store.createRun({
    experimentId: expId,
    runName: `run-${i}`,
    startTime: 1_700_000_000_000 + i,
  });
  store.logBatchSync(r.info.runId, {
    metrics: [
      { key: "loss", value: (i * 7919) % 10000 / 10000, timestamp: 1, step: 0 },
      { key: "val/loss", value: (i * 104729) % 10000 / 5000, timestamp: 1, step: 0 },
    ],
    params: [{ key: "lr", value: String([0.001, 0.003, 0.01][i % 3]) }, {
      key: "layers",
      value: String(i % 8),
    }],
    tags: [{ key: "group", value: `g${i % 10}` }],
  });
  if (i % 2 === 0) await store.logInputs(r.info.runId, { datasets: PAIRS[(i / 2) % PAIRS.length] });
}
console.log(`seeded ${nRuns} runs in ${((performance.now() - t0) / 1000).toFixed(1)} s (FileStore, ${root})`);

const main = new URL("../main.ts", import.meta.url).pathname;
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    main,
    "server",
    "--port",
    "0",
    "--backend-store-uri",
    root,
    "--artifacts-destination",
    join(dir, "art"),
  ],
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let url = "";
for (let text = ""; !url;) {
  const { value, done } = await reader.read();
  if (done) throw new Error("Cannot start the server: it exited before printing its URL");
  text += value;
  url = /http:\/\/127\.0\.0\.1:\d+/.exec(text)?.[0] ?? "";
}
reader.releaseLock();
child.stdout.cancel().catch(() => {});

async function post(endpoint: string, body: unknown): Promise<Response> {
  return await fetch(`${url}/api/2.0/mlflow/${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

async function hammer(name: string, once: (loop: number, i: number) => Promise<boolean>) {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(Array.from({ length: conc }, async (_, loop) => {
    for (let i = 0; performance.now() < end; i++) {
      const t = performance.now();
      let ok = false;
      try {
        ok = await once(loop, i);
      } catch {
        ok = false;
      }
      lat.push(performance.now() - t);
      if (!ok) errors++;
    }
  }));
  const wall = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  console.log(
    `${name}: ${lat.length} requests in ${wall.toFixed(1)} s (${(lat.length / wall).toFixed(0)}/s), ` +
      `p50 ${pct(lat, 50).toFixed(1)} ms, p95 ${pct(lat, 95).toFixed(1)} ms, p99 ${
        pct(lat, 99).toFixed(1)
      } ms, ` +
      `errors ${errors}`,
  );
  return { count: lat.length, errors, p95: pct(lat, 95) };
}

const searchBody = {
  experiment_ids: [expId],
  filter: "metrics.loss < 0.5 AND params.lr = '0.001'",
  order_by: ["metrics.`val/loss` ASC"],
  max_results: 100,
};
let failures = 0;
try {
  t0 = performance.now();
  const warm = await (await post("runs/search", searchBody)).json();
  console.log(
    `warm-up search: ${warm.runs?.length ?? 0} runs in ${
      (performance.now() - t0).toFixed(0)
    } ms (builds the index)`,
  );
  const search = await hammer(`runs/search over ${nRuns} runs, ${conc} loops`, async () => {
    const res = await post("runs/search", searchBody);
    const j = await res.json();
    return res.ok && (j.runs?.length ?? 0) === (warm.runs?.length ?? 0);
  });
  const datasetBody = { ...searchBody, filter: "dataset.name = 'stories-1' AND metrics.loss < 0.5" };
  const expected = (await (await post("runs/search", datasetBody)).json()).runs?.length ?? 0;
  const byDataset = await hammer(
    `runs/search with a dataset filter (${expected} runs), ${conc} loops`,
    async () => {
      const res = await post("runs/search", datasetBody);
      const j = await res.json();
      return res.ok && expected > 0 && (j.runs?.length ?? 0) === expected &&
        j.runs[0].inputs?.dataset_inputs?.length === 2;
    },
  );

  const runIds: string[] = [];
  for (let i = 0; i < conc; i++) {
    runIds.push(
      (await (await post("runs/create", { experiment_id: expId, run_name: `load-${i}` })).json()).run.info
        .run_id,
    );
  }
  const sent = new Array(conc).fill(0);
  const logged = await hammer(`runs/log-batch (${batch} metrics each), ${conc} loops`, async (loop, i) => {
    const metrics = Array.from({ length: batch }, (_, k) => ({
      key: "load",
      value: i * batch + k,
      timestamp: Date.now(),
      step: i * batch + k,
    }));
    const res = await post("runs/log-batch", { run_id: runIds[loop], metrics });
    await res.body?.cancel();
    if (res.ok) sent[loop] = (i + 1) * batch;
    return res.ok;
  });

  let missing = 0;
  for (let loop = 0; loop < conc; loop++) {
    const history = await store.getMetricHistory(runIds[loop], "load");
    const steps = new Set(history.map((m) => m.step));
    for (let s = 0; s < sent[loop]; s++) if (!steps.has(s)) missing++;
    if (history.length !== sent[loop]) missing += Math.abs(history.length - sent[loop]);
  }
  const points = sent.reduce((a, b) => a + b, 0);
  console.log(`verify: ${points} points logged, ${missing} missing or extra`);
  failures = search.errors + byDataset.errors + logged.errors + missing + (search.p95 > 100 ? 1 : 0);
  console.log(
    `targets: search p95 ≤ 100 ms with 0 errors: ${
      search.p95 <= 100 && !search.errors ? "met" : "MISSED"
    }; ` +
      `log-batch 0 errors and every point present: ${
        logged.errors === 0 && missing === 0 ? "met" : "MISSED"
      }`,
  );
} finally {
  child.kill("SIGTERM");
  await child.status;
  await Deno.remove(dir, { recursive: true });
}
Deno.exit(failures ? 1 : 0);
