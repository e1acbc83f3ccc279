/**
 * What every route of the tracking server shares: the FileStore it fronts and, when artifact serving is on, the
 * `--artifacts-destination` root behind `mlflow-artifacts:/` URIs. Built once by createServerApp.
 */
import { join, resolve } from "node:path";
import { toPyYaml } from "../yaml.ts";
import { UsageError } from "../errors.ts";
import { FileStore, openTracking, resolveTrackingUri } from "../tracking/mod.ts";

/** The server's shared state. */
export interface ServerContext {
  store: FileStore;
  /** Absolute directory behind `mlflow-artifacts:/`, or null when artifact serving is off. */
  artifactsRoot: string | null;
  /** Upload limit for the artifact proxy (bytes). */
  maxArtifactBytes: number;
}

/** Opens the backend store (a path or `file:` URI) and creates the artifacts root. */
export function openServerContext(
  backendStoreUri: string,
  artifactsDestination: string | null,
  maxArtifactBytes: number,
): ServerContext {
  const target = resolveTrackingUri(backendStoreUri);
  if (target.kind !== "file") {
    throw new UsageError(
      `Cannot use backend store '${backendStoreUri}': the tracking server fronts a local mlruns store`,
      { hint: "pass a path or file: URI, e.g. --backend-store-uri ./mlruns" },
    );
  }
  const fresh = !existsSync(target.root);
  const store = openTracking(target.uri);
  if (!(store instanceof FileStore)) throw new Error("Cannot open the backend store: not a file store");
  let artifactsRoot: string | null = null;
  if (artifactsDestination !== null) {
    // Created on the first upload, so `storyteller ui` leaves no empty folder behind.
    artifactsRoot = resolve(artifactsDestination.replace(/^file:\/\//i, ""));
  }
  const ctx = { store, artifactsRoot, maxArtifactBytes };
  // A store this server creates gets MLflow's server default for experiment 0, as `mlflow server` does.
  if (fresh && artifactsRoot !== null) setArtifactLocation(ctx, "0", "mlflow-artifacts:/0");
  return ctx;
}

/**
 * Points a just-created experiment at `location` (the FileStore picks `file:` locations under its root; a server
 * with artifact serving gives new experiments `mlflow-artifacts:/<id>` like MLflow's does).
 */
export function setArtifactLocation(ctx: ServerContext, experimentId: string, location: string): void {
  const path = join(ctx.store.root, experimentId, "meta.yaml");
  const text = Deno.readTextFileSync(path);
  const line = toPyYaml({ artifact_location: location }).trimEnd();
  const next = text.replace(/^artifact_location:.*(\n[ ]+.*)*$/m, line);
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  Deno.writeTextFileSync(tmp, next);
  Deno.renameSync(tmp, path);
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
