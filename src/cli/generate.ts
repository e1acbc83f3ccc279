/**
 * `storyteller generate`: write a story with a trained model, streamed to stdout (the KV-cache engine of serve).
 * Past the model's context the window slides (its last ¾ kept), so --max-tokens is never cut short silently; a
 * story that ends itself (`<|endoftext|>`) or hits a stop string says so on stderr.
 */
import { Command } from "commander";
import { UsageError } from "../errors.ts";
import { closeGpu, openGpu } from "../gpu/mod.ts";
import {
  checkLogitBias,
  type GenerateOptions,
  loadModel,
  MAX_REPETITION_PENALTY,
  ModelService,
} from "../serve/mod.ts";
import { collect, intOption, numberOption, seedOption } from "./_options.ts";
import { dim } from "./output.ts";

interface GenerateFlags extends Omit<GenerateOptions, "logitBias"> {
  model: string;
  prompt: string;
  trackingUri?: string;
  device: "auto" | "gpu" | "cpu";
  logitBias?: Map<number, number>;
}

/** Collects `--logit-bias <id>=<bias>` into an id → bias map (a later flag for the same id wins). */
function logitBiasOption(value: string, previous = new Map<number, number>()): Map<number, number> {
  const m = /^\s*(\d+)\s*=\s*(\S+)\s*$/.exec(value);
  const bias = Number(m?.[2]);
  if (!m || !Number.isSafeInteger(Number(m[1])) || !Number.isFinite(bias) || Math.abs(bias) > 100) {
    throw new UsageError(
      `Cannot parse --logit-bias: expected <token id>=<bias from -100 to 100> (e.g. 50256=-100), got '${value}'`,
    );
  }
  return new Map(previous).set(Number(m[1]), bias);
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
      "tokens to generate (default: the model's generation config); past the model's context the window slides",
      intOption("--max-tokens", 1),
    )
    .option("--temperature <t>", "sampling temperature (0 = greedy)", numberOption("--temperature", 0, 100))
    .option("--top-k <k>", "sample among the k most likely tokens (0 = all)", intOption("--top-k", 0))
    .option("--top-p <p>", "nucleus sampling mass", numberOption("--top-p", 1e-6, 1))
    .option(
      "--seed <n>",
      "sampling seed (0 to 2^53 − 1; its low 32 bits seed the sampler)",
      seedOption("--seed"),
    )
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
      "--logit-bias <id=bias>",
      "add bias (−100 to 100) to token id's logit before sampling, e.g. 50256=-100 (repeatable)",
      logitBiasOption,
    )
    .option(
      "--tracking-uri <uri>",
      "tracking store for runs:/ and models:/ URIs (default MLFLOW_TRACKING_URI or ./mlruns)",
    )
    .option("--device <device>", "auto, gpu or cpu (lavapipe)", "auto")
    .action(async ({ model, prompt, trackingUri, device, logitBias, ...flags }: GenerateFlags) => {
      const loaded = await loadModel(model, { trackingUri });
      const bias = [...logitBias ?? []];
      const problem = checkLogitBias(bias, loaded.model.vocab_size);
      if (problem) {
        throw new UsageError(`Cannot use --logit-bias: ${problem}`, {
          hint: "token ids come from the model's tokenizer.json",
        });
      }
      const options: GenerateOptions = { ...flags, ...(bias.length > 0 ? { logitBias: bias } : {}) };
      const gpu = await openGpu(device);
      const service = new ModelService(gpu, loaded, { maxBatch: 1, chunk: 16, requestTimeoutMs: 0 });
      const out = Deno.stdout;
      const enc = new TextEncoder();
      const write = (s: string) => out.writeSync(enc.encode(s));
      write(prompt);
      try {
        const done = await service.complete(prompt, options, write);
        write("\n");
        if (done.stoppedBy) {
          const why = done.stoppedBy === "stop string"
            ? "a --stop string"
            : "the model ended the story (<|endoftext|>)";
          console.error(dim(`(stopped after ${done.completionTokens} tokens: ${why})`));
        }
      } catch (err) {
        write("\n");
        throw err;
      } finally {
        service.close();
        service.engine.destroy();
        await closeGpu(gpu);
      }
    });
}
