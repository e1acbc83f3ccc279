/** `storyteller bench`: training-step speed with per-kernel GPU times. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function benchCommand(): Command {
  return new Command("bench")
    .description("measure training speed (tokens/s, ms/step, per-kernel GPU time)")
    .option("-c, --config <path-or-name>", "config file or embedded config name", "tiny")
    .option("--steps <n>", "timed steps", "10")
    .action(() => notImplemented("bench", 4));
}
