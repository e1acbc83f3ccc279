/** `storyteller generate`: write a story with a trained model. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function generateCommand(): Command {
  return new Command("generate")
    .description("generate a story with a trained model")
    .requiredOption("-m, --model <uri>", "model directory or runs:/ / models:/ URI")
    .option("--prompt <text>", "story opening", "Once upon a time")
    .option("--max-tokens <n>", "tokens to generate")
    .option("--temperature <t>", "sampling temperature (0 = greedy)")
    .option("--top-k <k>", "sample among the k most likely tokens")
    .option("--top-p <p>", "nucleus sampling mass")
    .option("--seed <n>", "sampling seed")
    .action(() => notImplemented("generate", 4));
}
