/** `storyteller server`: the MLflow-compatible tracking server. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function serverCommand(): Command {
  return new Command("server")
    .description("run an MLflow-compatible tracking server (REST API, artifact proxy, UI)")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("-p, --port <port>", "port to listen on", "5000")
    .option("--backend-store-uri <uri>", "tracking store", "./mlruns")
    .option("--artifacts-destination <uri>", "where proxied artifacts are stored", "./mlartifacts")
    .option("--auth-token <token>", "require this Bearer token")
    .option("--cors-origin <origin>", "allow cross-origin requests from this origin")
    .action(() => notImplemented("server", 8));
}
