/**
 * `storyteller tune`: times every kernel variant on the shapes of one config's training step on this adapter, keeps
 * the fastest per shape in the user's cache (as training does on first use), and prints the table.
 */
import { Command } from "commander";
import { loadConfig } from "../config/mod.ts";
import { closeGpu, openGpu } from "../gpu/mod.ts";
import { attachTuningCache, type TunedShape } from "../kernels/tune.ts";
import { benchTraining } from "../train/bench.ts";
import { collect } from "./_options.ts";
import { bold, printWarning } from "./output.ts";

/** One line per tuned shape: the winner, then every candidate's µs per call. */
export function formatTuned(t: TunedShape): string {
  const times = Object.entries(t.result.times)
    .map(([v, us]) => `${v === t.result.variant ? bold(v) : v} ${us.toFixed(1)}`)
    .join("  ");
  return `  ${t.family} ${t.shape}: ${bold(t.result.variant)}  (µs/call: ${times})`;
}

export function tuneCommand(): Command {
  return new Command("tune")
    .description("time the kernel variants on this adapter for a config's shapes and cache the fastest")
    .option("-c, --config <path-or-name>", "config file or embedded config name", "tiny")
    .option("--set <key=value>", "override a config value (repeatable)", collect, [])
    .action(async (opts: { config: string; set: string[] }) => {
      const { config, source } = await loadConfig(opts.config, opts.set);
      const gpu = await openGpu(config.training.device);
      try {
        // Re-times every shape: the cache is written, not read.
        const path = attachTuningCache(gpu, printWarning);
        gpu.tuning.forget();
        console.log(`${bold("tune")} ${source} on ${gpu.summary.description}`);
        const r = await benchTraining(gpu, config, 3, 2, { onTuned: (t) => console.log(formatTuned(t)) });
        console.log(
          `${r.tuned.length} shape${r.tuned.length === 1 ? "" : "s"} tuned; ${
            Math.round(r.tokensPerSec).toLocaleString("en-US")
          } tok/s with the chosen variants` + (path ? `; cached in ${path}` : " (cache off)"),
        );
      } finally {
        await closeGpu(gpu);
      }
    });
}
