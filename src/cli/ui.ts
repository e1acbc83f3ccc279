/** `storyteller ui`: the tracking server with the web UI on a local ./mlruns; prints the URL, opens nothing. */
import { Command } from "commander";
import { intOption } from "./_options.ts";
import { addSafetyOptions, runTrackingServer, type ServeFlags } from "./server.ts";

export function uiCommand(): Command {
  return addSafetyOptions(
    new Command("ui")
      .description("open the tracking web UI for a local mlruns store")
      .option("-p, --port <port>", "port to listen on (0 = any free port)", intOption("--port"), 5000)
      .option("--host <host>", "address to bind", "127.0.0.1")
      .option("--backend-store-uri <uri>", "tracking store", "./mlruns")
      .option("--artifacts-destination <path>", "where proxied artifacts are stored", "./mlartifacts"),
  ).action((flags: ServeFlags) => runTrackingServer(flags, true, "storyteller ui"));
}
