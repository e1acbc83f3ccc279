/**
 * What noticing other programs' writes costs the run index (issue 16 item 2), on a store of finished runs: the cold
 * build (reads and stamps every run), one sweep with and without a whole data-stamp pass (the synchronous path), and
 * the server's searches with the defaults (the rolling pass beside them). Usage:
 * `deno run -A tools/bench_run_index_sweep.ts <mlruns dir> [repeats]` (a store from tools/_bench_store.ts).
 */
import { join } from "node:path";
import { DEFAULT_FOREIGN_MS, DEFAULT_STALE_MS, FileStore } from "../src/tracking/mod.ts";
import { experimentIndex, forgetIndex, SIDECAR } from "../src/tracking/run_index.ts";

const [root, repeatsArg] = Deno.args;
if (!root) throw new Error("Usage: bench_run_index_sweep.ts <mlruns dir> [repeats]");
const repeats = Number(repeatsArg ?? 5);
const probe = new FileStore(root);
const exp = (await probe.searchExperiments({ maxResults: 1000 })).experiments.find((e) =>
  e.name !== "Default"
)!;
const expId = exp.experimentId;

async function timed(store: FileStore): Promise<number> {
  const t0 = performance.now();
  await store.searchRuns({ experimentIds: [expId], maxResults: 100 });
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) =>
  `${xs.map((x) => x.toFixed(0)).join(", ")} ms (median ${median(xs).toFixed(0)})`;

// Cold build (no sidecar, no in-memory index): every run read, then stamped.
const cold: number[] = [];
for (let i = 0; i < Math.min(3, repeats); i++) {
  try {
    Deno.removeSync(join(root, expId, SIDECAR));
  } catch { /* none yet */ }
  forgetIndex();
  cold.push(await timed(new FileStore(root)));
}
console.log(`cold build: ${fmt(cold)}`);

// One sweep of the synchronous path, every search sweeping (staleMs 0): the meta.yaml stats alone (foreignMs
// Infinity: no rolling pass after the first), and with a whole rolling pass each time (foreignMs 0): the pass's cost.
const expDir = join(root, expId);
for (
  const [label, foreignMs] of [["sweep, meta.yaml only", Infinity], ["sweep + whole stamp pass", 0]] as const
) {
  forgetIndex();
  experimentIndex(expDir, expId, 0, foreignMs); // from the sidecar: its first sweep stamps every run
  experimentIndex(expDir, expId, 0, foreignMs);
  const xs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    experimentIndex(expDir, expId, 0, foreignMs);
    xs.push(performance.now() - t0);
  }
  console.log(`${label} (sync): ${fmt(xs)}`);
}
// The server's path with the defaults: a search every DEFAULT_STALE_MS; the rolling pass runs beside it.
{
  forgetIndex();
  const store = new FileStore(root);
  await timed(store);
  const xs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    await new Promise((r) => setTimeout(r, DEFAULT_STALE_MS));
    xs.push(await timed(store));
  }
  console.log(
    `async search every ${DEFAULT_STALE_MS} ms (rolling pass per ${DEFAULT_FOREIGN_MS} ms beside it): ${
      fmt(xs)
    }`,
  );
}
