/**
 * What every route of the tracking server shares: the FileStore it fronts and, when artifact serving is on, the
 * `--artifacts-destination` root behind `mlflow-artifacts:/` URIs. Built once by createServerApp.
 */
import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { FileStore, resolveTrackingUri } from "../tracking/mod.ts";

/** Where the server may read artifact files from: the store root and the `--artifacts-destination` (or none). */
export type ArtifactRoots = Pick<ServerContext, "store" | "artifactsRoot">;

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
  let artifactsRoot: string | null = null;
  if (artifactsDestination !== null) {
    // Created on the first upload, so `storyteller ui` leaves no empty folder behind.
    artifactsRoot = resolve(artifactsDestination.replace(/^file:\/\//i, ""));
  }
  // With artifact serving, new experiments (and experiment 0 of a store this server creates) get
  // `mlflow-artifacts:/<id>`, as `mlflow server` gives them.
  const store = new FileStore(
    target.root,
    artifactsRoot !== null ? { artifactRoot: "mlflow-artifacts:/" } : {},
  );
  return { store, artifactsRoot, maxArtifactBytes };
}
