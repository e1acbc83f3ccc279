/** `storyteller ui`: the tracking server on the local ./mlruns with the web UI. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function uiCommand(): Command {
  return new Command("ui")
    .description("open the tracking web UI for a local mlruns store")
    .option("-p, --port <port>", "port to listen on", "5000")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--backend-store-uri <uri>", "tracking store", "./mlruns")
    .action(() => notImplemented("ui", 9));
}
