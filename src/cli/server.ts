/** `storyteller server`: the MLflow-compatible tracking server (REST API, artifact proxy, UI). */
import { Command } from "commander";
import { collect, intOption } from "./_options.ts";
import { bold, debugLevel, printWarning } from "./output.ts";
import { openTracking } from "../tracking/mod.ts";
import { createServerApp, HASH_HINT, listen, type ServerOptions } from "../server/mod.ts";

/** Options shared by `server` and `ui`. */
export interface ServeFlags {
  host: string;
  port: number;
  backendStoreUri: string;
  artifactsDestination?: string;
  serveArtifacts?: boolean;
  authToken?: string;
  htpasswd?: string;
  corsOrigin?: string[];
  allowedHosts?: string[];
  maxBodyBytes?: number;
  maxArtifactBytes?: number;
}

/** Builds, starts and keeps the tracking server running until SIGINT/SIGTERM; prints the URL. */
export async function runTrackingServer(flags: ServeFlags, ui: boolean, name: string): Promise<void> {
  const opts: ServerOptions = {
    backendStoreUri: flags.backendStoreUri,
    artifactsDestination: flags.serveArtifacts === false ? null : flags.artifactsDestination,
    host: flags.host,
    port: flags.port,
    authToken: flags.authToken ?? (Deno.env.get("STORYTELLER_AUTH_TOKEN") || undefined),
    htpasswdFile: flags.htpasswd,
    corsOrigins: flags.corsOrigin,
    allowedHosts: flags.allowedHosts?.flatMap((h) => h.split(",")).filter((h) => h),
    maxBodyBytes: flags.maxBodyBytes,
    maxArtifactBytes: flags.maxArtifactBytes,
    ui,
  };
  const app = createServerApp(opts);
  const running = listen(app, {
    host: flags.host,
    port: flags.port,
    authEnabled: opts.authToken !== undefined || opts.htpasswdFile !== undefined,
    name,
    warn: printWarning,
  });
  console.log(`${name} listening on ${bold(running.url)}  (backend store: ${flags.backendStoreUri})`);
  void warmIndex(flags.backendStoreUri);
  const stop = () => {
    console.log("shutting down");
    running.shutdown();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await running.server.finished;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}

/** Adds the safety options both commands share. */
export function addSafetyOptions(cmd: Command): Command {
  return cmd
    .option("--auth-token <token>", "require 'Authorization: Bearer <token>' (or set STORYTELLER_AUTH_TOKEN)")
    .option("--htpasswd <file>", `require basic auth from this file; ${HASH_HINT}`)
    .option(
      "--allowed-hosts <hosts>",
      "extra Host header values to accept (comma-separated, *.domain, *)",
      collect,
    )
    .option("--cors-origin <origin>", "allow cross-origin requests from this origin (repeatable)", collect)
    .option(
      "--max-body-bytes <n>",
      "JSON request body limit (default 16 MiB)",
      intOption("--max-body-bytes", 1),
    )
    .option(
      "--max-artifact-bytes <n>",
      "artifact upload limit (default 2 GiB)",
      intOption("--max-artifact-bytes", 1),
    );
}

export function serverCommand(): Command {
  return addSafetyOptions(
    new Command("server")
      .description("run an MLflow-compatible tracking server (REST API, artifact proxy, UI)")
      .option("--host <host>", "address to bind", "127.0.0.1")
      .option("-p, --port <port>", "port to listen on (0 = any free port)", intOption("--port"), 5000)
      .option("--backend-store-uri <uri>", "tracking store (path or file: URI)", "./mlruns")
      .option("--artifacts-destination <path>", "where proxied artifacts are stored", "./mlartifacts")
      .option("--no-serve-artifacts", "turn the artifact proxy off (runs keep file: artifact URIs)"),
  ).action((flags: ServeFlags) => runTrackingServer(flags, true, "tracking server"));
}

/**
 * Builds every experiment's run index in the background (the build yields to requests), so the first page a
 * browser asks for finds it warm: a store never indexed before takes seconds per 10,000 runs. Failures only
 * mean the first search builds the index itself.
 */
async function warmIndex(uri: string): Promise<void> {
  try {
    const store = openTracking(uri);
    const { experiments } = await store.searchExperiments({ maxResults: 50_000, viewType: "ALL" });
    for (const e of experiments) {
      await store.searchRuns({ experimentIds: [e.experimentId], maxResults: 1, viewType: "ALL" });
    }
  } catch (err) {
    if (debugLevel() > 0) console.error(`index warm-up stopped: ${err instanceof Error ? err.message : err}`);
  }
}
