/** `storyteller serve`: serve a trained model over HTTP (MLflow scoring protocol and OpenAI completions). */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve a trained model over HTTP")
    .requiredOption(
      "-m, --model-uri <uri>",
      "runs:/<id>/model, models:/<name>/<version>, or a model directory",
    )
    .option("-p, --port <port>", "port to listen on", "5001")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .action(() => notImplemented("serve", 10));
}
