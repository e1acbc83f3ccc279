/** `storyteller export`: write a trained model as GGUF (llama.cpp, Ollama) or a Hugging Face transformers directory. */
import { Command, Option } from "commander";
import { type ExportFormat, exportModel } from "../export/mod.ts";

interface ExportFlags {
  model: string;
  format: ExportFormat;
  output: string;
  dtype: "f32" | "f16";
  trackingUri?: string;
  force?: boolean;
}

export function exportCommand(): Command {
  return new Command("export")
    .description("export a trained model for llama.cpp/Ollama (gguf) or Hugging Face transformers (hf)")
    .requiredOption(
      "-m, --model <uri>",
      "model directory, runs:/<id>/model or models:/<name>/<version|latest|@alias>",
    )
    .addOption(
      new Option("--format <format>", "gguf: one llama.cpp file; hf: a transformers directory")
        .choices(["gguf", "hf"]).makeOptionMandatory(),
    )
    .requiredOption("-o, --output <path>", "the .gguf file or the directory to write")
    .addOption(new Option("--dtype <dtype>", "weight precision").choices(["f32", "f16"]).default("f32"))
    .option("--force", "replace an existing output")
    .option(
      "--tracking-uri <uri>",
      "tracking store for runs:/ and models:/ URIs (default MLFLOW_TRACKING_URI or ./mlruns)",
    )
    .action(async (flags: ExportFlags) => {
      const res = await exportModel({
        model: flags.model,
        format: flags.format,
        out: flags.output,
        dtype: flags.dtype,
        trackingUri: flags.trackingUri,
        force: flags.force,
      });
      const mib = (res.bytes / 2 ** 20).toFixed(1);
      console.log(`Exported ${flags.model} to ${res.path} (${flags.format}, ${flags.dtype}, ${mib} MiB)`);
    });
}
