/** `storyteller models`: the model registry. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function modelsCommand(): Command {
  const cmd = new Command("models").description("register and manage models");
  for (const verb of ["create", "register", "list", "describe", "set-alias", "delete-alias"]) {
    cmd.command(verb).description(`${verb.replace("-", " ")} in the model registry`)
      .option("--tracking-uri <uri>", "tracking store or server")
      .action(() => notImplemented(`models ${verb}`, 5));
  }
  return cmd;
}
