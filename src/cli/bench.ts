/** `storyteller bench`: training speed (tokens/s, ms/step) and per-kernel GPU time on random tokens. */
import { Command } from "commander";
import { loadConfig } from "../config/mod.ts";
import { closeGpu, openGpu } from "../gpu/mod.ts";
import { buildLayout } from "../model/mod.ts";
import { benchTraining } from "../train/bench.ts";
import { attachTuningCache, tuningEnabled } from "../kernels/tune.ts";
import { collect, intOption } from "./_options.ts";
import { bold, printWarning } from "./output.ts";
import { PhaseProgress } from "./_progress.ts";
import { formatTuned } from "./tune.ts";

export function benchCommand(): Command {
  return new Command("bench")
    .description("measure training speed (tokens/s, ms/step, per-kernel GPU time) on random tokens")
    .option("-c, --config <path-or-name>", "config file or embedded config name", "tiny")
    .option("--set <key=value>", "override a config value (repeatable)", collect, [])
    .option("--steps <n>", "timed steps", intOption("--steps", 1), 10)
    .option("--top <n>", "kernels listed", intOption("--top", 0), 15)
    .option(
      "--split-target <n>",
      "workgroups split-K aims for in weight gradients (default 264 on a GPU, 0 = off on a CPU adapter)",
      intOption("--split-target", 0),
    )
    .option("--no-tune", "run every kernel's default variant (no timing of variants, no tuning cache)")
    .action(
      async (
        opts: {
          config: string;
          set: string[];
          steps: number;
          top: number;
          splitTarget?: number;
          tune: boolean;
        },
      ) => {
        const { config, source } = await loadConfig(opts.config, opts.set);
        const gpu = await openGpu(config.training.device);
        try {
          const tune = opts.tune && tuningEnabled();
          if (tune) attachTuningCache(gpu, printWarning);
          const B = config.training.batch_size;
          const T = config.model.max_seq_len;
          console.log(
            `${bold("bench")} ${source}: ${
              buildLayout(config.model).count.toLocaleString("en-US")
            } parameters, ` +
              `batch ${B} × ${T}, on ${gpu.summary.description}`,
          );
          // A line every 5 s on stderr while steps run: a large config on a CPU adapter takes minutes per phase.
          const phases = new Map<string, PhaseProgress>();
          console.error(
            `bench: 3 warm-up steps (compiling pipelines${
              tune ? ", tuning kernels" : ""
            }), then ${opts.steps} timed…`,
          );
          const r = await benchTraining(gpu, config, opts.steps, 3, {
            splitTarget: opts.splitTarget,
            tune,
            onStep: (phase, done, total) => {
              if (done === 1) {
                phases.set(
                  phase,
                  new PhaseProgress(`bench: ${phase} steps`, (l) => console.error(l), 1),
                );
              }
              phases.get(phase)?.tick(done, total);
            },
          });
          if (r.tuned.length) {
            console.log(`${bold("tuned")} ${r.tuned.length} new shapes (cached for next time):`);
          }
          for (const t of r.tuned) console.log(formatTuned(t));
          const variants = gpu.tuning.used.map(([k, v]) => `${k.split("/")[0]} ${v}`);
          const counts = new Map<string, number>();
          for (const v of variants) counts.set(v, (counts.get(v) ?? 0) + 1);
          console.log(
            `${bold("variants")} ${
              tune
                ? [...counts].map(([v, n]) => `${v} ×${n}`).join(", ") || "(none tuned)"
                : "defaults (--no-tune or STORYTELLER_TUNING=off)"
            }`,
          );
          console.log(
            `${r.precision}  ${Math.round(r.tokensPerSec).toLocaleString("en-US")} tok/s  ${
              r.msPerStep.toFixed(2)
            } ms/step  CPU ${r.cpuMsPerStep.toFixed(2)} ms/step recording, ` +
              `${r.submitMsPerStep.toFixed(2)} ms in submit ` +
              `(${opts.steps} steps)`,
          );
          if (r.kernels.length) {
            const total = r.kernels.reduce((a, k) => a + k.msPerStep, 0);
            console.log(
              `${bold("GPU time per step")} ${total.toFixed(2)} ms (profiled: one pass per dispatch)`,
            );
            for (const k of r.kernels.slice(0, opts.top)) {
              console.log(
                `  ${k.msPerStep.toFixed(3).padStart(9)} ms  ${
                  (100 * k.msPerStep / total).toFixed(1).padStart(5)
                }%  ` +
                  `×${k.count}  ${k.label}`,
              );
            }
          }
        } finally {
          await closeGpu(gpu);
        }
      },
    );
}
