/** `storyteller tokenizer`: train, apply and inspect byte-level BPE tokenizers. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function tokenizerCommand(): Command {
  const cmd = new Command("tokenizer").description("train, apply and inspect byte-level BPE tokenizers");
  for (const verb of ["train", "encode", "decode", "stats"]) {
    cmd.command(verb).description(`${verb} with a tokenizer`)
      .action(() => notImplemented(`tokenizer ${verb}`, 3));
  }
  return cmd;
}
