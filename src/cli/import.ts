/** `storyteller import`: a Hugging Face Llama/Mixtral directory → a storyteller model directory (serve, generate, export). */
import { Command } from "commander";
import { importHf } from "../export/mod.ts";

interface ImportFlags {
  output: string;
  force?: boolean;
}

export function importCommand(): Command {
  return new Command("import")
    .description(
      "import a Hugging Face Llama/Mixtral directory (byte-level BPE) as a storyteller model directory",
    )
    .argument("<hf-dir>", "directory with config.json, model.safetensors and tokenizer.json")
    .requiredOption("-o, --output <dir>", "the storyteller model directory to write")
    .option("--force", "replace an existing output")
    .action(async (hfDir: string, flags: ImportFlags) => {
      const res = await importHf({ hfDir, out: flags.output, force: flags.force });
      const millions = (res.parameters / 1e6).toFixed(2);
      console.log(`Imported ${hfDir} (${res.architecture}, ${millions}M parameters) to ${res.path}`);
    });
}
