/** `storyteller train`: train a model from a config (the built-in tiny config on the built-in corpus by default). */
import { Command } from "commander";
import { type Config, loadConfig } from "../config/mod.ts";
import { buildLayout, estimateTrainingMemory } from "../model/mod.ts";
import { toYaml } from "../yaml.ts";
import { collect } from "./_options.ts";
import { notImplemented } from "./_not_implemented.ts";
import { bold } from "./output.ts";

export interface TrainOptions {
  config?: string;
  set: string[];
  dryRun?: boolean;
  resume?: string | boolean;
}

export function trainCommand(): Command {
  return new Command("train")
    .description("train a model (default: the embedded 'tiny' config on the built-in story corpus)")
    .option("-c, --config <path-or-name>", "config file, or an embedded config: tiny, base_model, moe_model")
    .option(
      "--set <key=value>",
      "override a config value, e.g. training.learning_rate=1e-3 (repeatable)",
      collect,
      [],
    )
    .option("--dry-run", "print the resolved config, parameter count and memory estimate, then exit")
    .option("--resume [checkpoint]", "continue from the latest checkpoint, or from the given one")
    .action(async (opts: TrainOptions) => {
      const { config, source } = await loadConfig(opts.config, opts.set);
      if (opts.dryRun) {
        console.log(describeDryRun(config, source));
        return;
      }
      notImplemented("train", 4);
    });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** The text `train --dry-run` prints. */
export function describeDryRun(config: Config, source: string): string {
  const layout = buildLayout(config.model);
  const mem = estimateTrainingMemory(config.model, config.training.batch_size);
  return [
    `# resolved config (from ${source})`,
    toYaml(config).trimEnd(),
    "",
    `${bold("parameters")}: ${layout.count.toLocaleString("en-US")} (${layout.entries.length} tensors)`,
    `${bold("memory estimate")}: ${mib(mem.total)} ` +
    `(weights ${mib(mem.params)}, gradients ${mib(mem.grads)}, AdamW ${mib(mem.optimizer)}, ` +
    `activations ${mib(mem.activations)} at batch ${config.training.batch_size})`,
  ].join("\n");
}
