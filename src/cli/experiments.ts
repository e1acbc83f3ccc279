/** `storyteller experiments`: list and manage experiments. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function experimentsCommand(): Command {
  const cmd = new Command("experiments").description("list and manage experiments");
  for (const verb of ["list", "create", "rename", "delete", "restore"]) {
    cmd.command(verb).description(`${verb} experiments`)
      .option("--tracking-uri <uri>", "tracking store or server")
      .action(() => notImplemented(`experiments ${verb}`, 5));
  }
  return cmd;
}
