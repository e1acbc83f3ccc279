/** `storyteller generate`: write a story with a trained model, streamed to stdout (the KV-cache engine of serve). */
import { Command } from "commander";
import { closeGpu, openGpu } from "../gpu/mod.ts";
import { type GenerateOptions, loadModel, MAX_REPETITION_PENALTY, ModelService } from "../serve/mod.ts";
import { collect, intOption, numberOption } from "./_options.ts";

interface GenerateFlags extends GenerateOptions {
  model: string;
  prompt: string;
  trackingUri?: string;
  device: "auto" | "gpu" | "cpu";
}

export function generateCommand(): Command {
  return new Command("generate")
    .description("generate a story with a trained model (streamed to stdout)")
    .requiredOption(
      "-m, --model <uri>",
      "model directory, runs:/<id>/model or models:/<name>/<version|latest|@alias>",
    )
    .option("--prompt <text>", "story opening", "Once upon a time")
    .option(
      "--max-tokens <n>",
      "tokens to generate (default: the model's generation config)",
      intOption("--max-tokens", 1),
    )
    .option("--temperature <t>", "sampling temperature (0 = greedy)", numberOption("--temperature", 0, 100))
    .option("--top-k <k>", "sample among the k most likely tokens (0 = all)", intOption("--top-k", 0))
    .option("--top-p <p>", "nucleus sampling mass", numberOption("--top-p", 1e-6, 1))
    .option("--seed <n>", "sampling seed", intOption("--seed", 0))
    .option("--stop <text>", "stop when this text appears (repeatable)", collect)
    .option(
      "--repetition-penalty <p>",
      "divide the positive logits of ids already in the text by p, multiply negative ones (1 = off; 1.1–1.3 is usual)",
      numberOption("--repetition-penalty", 0.001, MAX_REPETITION_PENALTY),
    )
    .option(
      "--presence-penalty <p>",
      "subtract p from the logits of ids already generated (−2 to 2; 0 = off)",
      numberOption("--presence-penalty", -2, 2),
    )
    .option(
      "--frequency-penalty <p>",
      "subtract p × count from the logits of ids already generated (−2 to 2; 0 = off)",
      numberOption("--frequency-penalty", -2, 2),
    )
    .option(
      "--tracking-uri <uri>",
      "tracking store for runs:/ and models:/ URIs (default MLFLOW_TRACKING_URI or ./mlruns)",
    )
    .option("--device <device>", "auto, gpu or cpu (lavapipe)", "auto")
    .action(async ({ model, prompt, trackingUri, device, ...options }: GenerateFlags) => {
      const loaded = await loadModel(model, { trackingUri });
      const gpu = await openGpu(device);
      const service = new ModelService(gpu, loaded, { maxBatch: 1, chunk: 16, requestTimeoutMs: 0 });
      const out = Deno.stdout;
      const enc = new TextEncoder();
      const write = (s: string) => out.writeSync(enc.encode(s));
      write(prompt);
      try {
        await service.complete(prompt, options, write);
      } finally {
        write("\n");
        service.close();
        service.engine.destroy();
        await closeGpu(gpu);
      }
    });
}
