/** `storyteller runs`: search, describe, delete and restore tracked runs. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function runsCommand(): Command {
  const cmd = new Command("runs").description("search and manage tracked runs");
  cmd.command("search").description("search runs with an MLflow filter string")
    .option("--experiment-name <name>", "experiment to search")
    .option("--filter <filter>", 'MLflow filter string, e.g. "metrics.val/loss < 2.0"')
    .option("--order-by <clause>", 'order, e.g. "metrics.val/loss ASC"')
    .option("--max-results <n>", "maximum number of runs", "100")
    .option("--tracking-uri <uri>", "tracking store or server")
    .action(() => notImplemented("runs search", 5));
  for (const verb of ["describe", "delete", "restore"]) {
    cmd.command(verb).argument("<run-id>").description(`${verb} a run`)
      .option("--tracking-uri <uri>", "tracking store or server")
      .action(() => notImplemented(`runs ${verb}`, 5));
  }
  return cmd;
}
