/**
 * Tracking benchmarks: (1) search with a metric filter over 10,000 runs × 20 metrics × 20 params, cold (fresh
 * process state, no sidecar), sidecar-warm (fresh in-memory state, sidecar present) and warm (same process);
 * (2) 100,000 metric points through the AsyncLogger into a file store, from first call to close().
 * Usage: deno run -A tools/bench_tracking.ts [--runs 10000]
 * `--cold <mlruns>` instead times the first search of an existing store's largest experiment with its sidecar
 * deleted (`--drop-caches`: as root, also empties the page cache first; `--sync`: the synchronous index build).
 */
import { join } from "node:path";
import { AsyncLogger, FileStore } from "../src/tracking/mod.ts";
import { writeSyntheticRuns } from "./_bench_store.ts";
import { experimentIndex, forgetIndex, SIDECAR } from "../src/tracking/run_index.ts";

if (Deno.args.includes("--cold")) {
  await coldSearch(Deno.args[Deno.args.indexOf("--cold") + 1]);
  Deno.exit(0);
}

/** Cold, sidecar-warm and warm search of the largest experiment of the store at `root`. */
async function coldSearch(root: string): Promise<void> {
  if (!root) throw new Error("Cannot run --cold: no store given\n  hint: --cold /tmp/cold-store");
  const store = new FileStore(root);
  const { experiments } = await store.searchExperiments();
  const count = (id: string) => [...Deno.readDirSync(join(root, id))].filter((e) => e.isDirectory).length;
  const expId = experiments.map((e) => e.experimentId).sort((a, b) => count(b) - count(a))[0];
  const expDir = join(root, expId);
  const query = {
    experimentIds: [expId],
    filterString: "metrics.m3 < 2.0 AND params.p1 = '0'",
    orderBy: ["metrics.m3 ASC"],
    maxResults: 100,
  };
  const sync = Deno.args.includes("--sync");
  const search = async (label: string) => {
    const t0 = performance.now();
    const n = sync
      ? [...experimentIndex(expDir, expId).runs].length
      : (await store.searchRuns(query)).runs.length;
    console.log(
      `${label}: ${(performance.now() - t0).toFixed(1)} ms (${n} ${sync ? "runs indexed" : "runs returned"})`,
    );
  };
  try {
    Deno.removeSync(join(expDir, SIDECAR));
  } catch { /* none yet */ }
  forgetIndex();
  if (Deno.args.includes("--drop-caches")) {
    new Deno.Command("sync").outputSync();
    Deno.writeTextFileSync("/proc/sys/vm/drop_caches", "3\n");
  }
  await search(`cold ${sync ? "sync index build" : "search"} of experiment ${expId} (no sidecar)`);
  const saved = [...Deno.readDirSync(expDir)].some((e) => e.name === SIDECAR);
  console.log(`sidecar saved: ${saved ? Deno.statSync(join(expDir, SIDECAR)).size + " bytes" : "no"}`);
  forgetIndex();
  await search("sidecar-warm (fresh process state)");
  await search("warm");
}

const nRuns = Number(Deno.args[Deno.args.indexOf("--runs") + 1] || 10000);
const root = join(Deno.makeTempDirSync({ prefix: "st-bench-" }), "mlruns");
const store = new FileStore(root);
const expId = await store.createExperiment("bench");
const expDir = join(root, expId);

// Populate with the store's own formats (direct file writes: building 10k runs through the API is not the benchmark).
let t = performance.now();
writeSyntheticRuns(store, expId, nRuns);
console.log(
  `populated ${nRuns} runs × 20 metrics × 20 params in ${((performance.now() - t) / 1000).toFixed(1)} s`,
);

const query = {
  experimentIds: [expId],
  filterString: "metrics.m3 < 2.0 AND params.p1 = '0'",
  orderBy: ["metrics.m3 ASC"],
  maxResults: 100,
};
async function timed(label: string): Promise<number> {
  const t0 = performance.now();
  const page = await store.searchRuns(query);
  const ms = performance.now() - t0;
  console.log(`${label}: ${ms.toFixed(1)} ms (${page.runs.length} runs returned)`);
  return ms;
}
forgetIndex();
try {
  Deno.removeSync(join(expDir, ".storyteller-index.json"));
} catch { /* none yet */ }
await timed("search cold (reads every run file)");
forgetIndex();
await timed("search sidecar-warm (new process state, sidecar index present)");
const warm: number[] = [];
for (let i = 0; i < 5; i++) warm.push(await timed(`search warm #${i + 1}`));
warm.sort((a, b) => a - b);
console.log(`search warm median: ${warm[2].toFixed(1)} ms`);

const run = await store.createRun({ experimentId: expId });
const logger = new AsyncLogger(store, run.info.runId);
t = performance.now();
for (let i = 0; i < 100_000; i++) logger.logMetric(`train/m${i % 10}`, 1 / (i + 1), Math.floor(i / 10));
const queued = performance.now() - t;
await logger.close();
const total = performance.now() - t;
console.log(
  `async logger: 100,000 points queued in ${queued.toFixed(1)} ms, written (close) after ${
    total.toFixed(1)
  } ms`,
);
Deno.removeSync(join(root, ".."), { recursive: true });
