/**
 * `storyteller serve`: serve a trained model over HTTP (MLflow scoring protocol, OpenAI completions and chat,
 * metrics).
 */
import { Command } from "commander";
import { UsageError } from "../errors.ts";
import { closeGpu, openGpu } from "../gpu/mod.ts";
import { activeParamCount } from "../model/mod.ts";
import { listen } from "../server/mod.ts";
import {
  checkServable,
  createServeApp,
  DEFAULT_SERVICE_OPTIONS,
  loadModel,
  Metrics,
  ModelService,
  planSlots,
} from "../serve/mod.ts";
import { collect, intOption, numberOption } from "./_options.ts";
import { bold, dim, printWarning } from "./output.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

/** Parses a byte size: `268435456`, `256MiB`, `1.5GB`. */
export function parseBytes(name: string): (value: string) => number {
  return (value: string) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(value);
    if (!m) throw new UsageError(`Cannot parse ${name}: expected a size like 512MiB or 1GB, got '${value}'`);
    return Math.floor(Number(m[1]) * UNITS[(m[2] ?? "").toLowerCase()]);
  };
}

interface ServeFlags {
  modelUri: string;
  port: number;
  host: string;
  trackingUri?: string;
  maxBatch: number;
  kvMemory?: number;
  chunk: number;
  requestTimeout: number;
  authToken?: string;
  allowedHosts?: string[];
  maxBodyBytes: number;
  device: "auto" | "gpu" | "cpu";
  servedModelName?: string[];
}

export function serveCommand(): Command {
  return new Command("serve")
    .description(
      "serve a trained model over HTTP (MLflow /invocations, OpenAI /v1/completions and /v1/chat/completions, /metrics)",
    )
    .requiredOption(
      "-m, --model-uri <uri>",
      "runs:/<id>/model, models:/<name>/<version|latest>, models:/<name>@<alias>, or a model directory",
    )
    .option("-p, --port <port>", "port to listen on (0 = any free port)", intOption("--port"), 5001)
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option(
      "--served-model-name <name>",
      "the model's name in the OpenAI API (/v1/models, `model` fields; repeatable: the first is reported, all are " +
        "accepted; default: the registered name, run id or directory name, and the -m value); other names get 404",
      collect,
    )
    .option(
      "--tracking-uri <uri>",
      "tracking store for runs:/ and models:/ URIs (default MLFLOW_TRACKING_URI or ./mlruns)",
    )
    .option(
      "--max-batch <n>",
      "most sequences decoded together",
      intOption("--max-batch", 1),
      DEFAULT_SERVICE_OPTIONS.maxBatch,
    )
    .option(
      "--kv-memory <size>",
      "KV-cache budget (e.g. 256MiB); lowers --max-batch to what fits",
      parseBytes("--kv-memory"),
    )
    .option(
      "--chunk <n>",
      "decode steps per GPU readback",
      intOption("--chunk", 1),
      DEFAULT_SERVICE_OPTIONS.chunk,
    )
    .option(
      "--request-timeout <seconds>",
      "end a generation still queued or running after this long: 504, or an SSE error event (0 = never)",
      numberOption("--request-timeout", 0, 86_400),
      DEFAULT_SERVICE_OPTIONS.requestTimeoutMs! / 1000,
    )
    .option(
      "--auth-token <token>",
      "require 'Authorization: Bearer <token>' on every route but /ping and /health (or set STORYTELLER_AUTH_TOKEN)",
    )
    .option(
      "--allowed-hosts <hosts>",
      "extra Host header values to accept (comma-separated, *.domain, *)",
      collect,
    )
    .option("--max-body-bytes <n>", "request body limit", intOption("--max-body-bytes", 1), 1 << 20)
    .option("--device <device>", "auto, gpu or cpu (lavapipe)", "auto")
    .action(async (flags: ServeFlags) => {
      // Everything that can fail on the user's input fails here, before anything listens.
      const loaded = await loadModel(flags.modelUri, { trackingUri: flags.trackingUri });
      checkServable(loaded.model);
      const options = {
        maxBatch: flags.maxBatch,
        kvMemoryBytes: flags.kvMemory,
        chunk: flags.chunk,
        requestTimeoutMs: Math.round(flags.requestTimeout * 1000),
      };
      planSlots(loaded, options);
      const gpu = await openGpu(flags.device);
      const authToken = flags.authToken ?? (Deno.env.get("STORYTELLER_AUTH_TOKEN") || undefined);
      const metrics = new Metrics();
      let service: ModelService | null = null;
      const served = flags.servedModelName?.flatMap((n) => n.split(",")).map((n) => n.trim()).filter((n) =>
        n
      );
      const [modelName, ...modelAliases] = served?.length ? served : [loaded.name, loaded.source];
      const app = createServeApp({
        service: () => service,
        metrics,
        modelName,
        modelAliases: modelAliases.filter((n) => n !== modelName),
        guard: {
          host: flags.host,
          port: flags.port,
          authToken,
          allowedHosts: flags.allowedHosts?.flatMap((h) => h.split(",")).filter((h) => h),
          maxBodyBytes: flags.maxBodyBytes,
        },
      });
      const running = listen(app, {
        host: flags.host,
        port: flags.port,
        authEnabled: authToken !== undefined,
        name: "model server",
        warn: printWarning,
      });
      const params = activeParamCount(loaded.model).toLocaleString("en-US");
      console.log(
        `model server listening on ${bold(running.url)}  ${
          dim(`(${loaded.source} as '${modelName}', ${params} parameters, chat: ${loaded.chat.source})`)
        }`,
      );
      const stop = () => {
        console.log("shutting down");
        service?.close();
        running.shutdown();
      };
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
      try {
        const ready = new ModelService(gpu, loaded, options, metrics);
        await ready.complete([loaded.tokenizer.eotId ?? 0], { maxTokens: 2, temperature: 0 }); // compiles the pipelines
        service = ready;
        console.log(
          `ready: ${service.describe()}  ${dim(`(${gpu.summary.description || gpu.summary.device})`)}`,
        );
        await running.server.finished;
      } catch (err) {
        await running.shutdown();
        throw err;
      } finally {
        Deno.removeSignalListener("SIGINT", stop);
        Deno.removeSignalListener("SIGTERM", stop);
        service?.close();
        await closeGpu(gpu);
      }
    });
}
