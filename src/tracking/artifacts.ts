/**
 * Local artifact operations (copy in, list) and artifact URI resolution: `runs:/`, `models:/`, `file:` and plain
 * paths down to a local path. Remote (`mlflow-artifacts:`) transfers live in rest_client.ts.
 */
import { basename, join, relative } from "node:path";
import { invalid, notFound } from "./errors.ts";
import { copyTree, exists, isDir } from "./_fs.ts";
import type { ArtifactFile, ModelVersion, RegistryClient } from "./types.ts";
import { appendToUri, fileUriToPath, parseModelsUri, parseRunsUri } from "./uri.ts";

/**
 * Rejects artifact sub-paths that could escape the artifact root (`..`, absolute, backslashes, `#`, control
 * characters such as NUL).
 */
export function validateArtifactPath(path: string): void {
  if (path === "") return;
  if (
    path.startsWith("/") || path.includes("\\") || path.includes("#") || path.split("/").includes("..") ||
    // deno-lint-ignore no-control-regex -- NUL and friends are what this refuses
    /[\x00-\x1f\x7f]/.test(path)
  ) {
    throw invalid(`Invalid artifact path: ${JSON.stringify(path)}`, "use a relative path without '..'");
  }
}

/** Local directory of a `file:` (or plain path) artifact URI; other schemes are refused. */
export function localArtifactDir(artifactUri: string): string {
  if (/^file:/i.test(artifactUri) || !/^[a-z][a-z0-9+.-]*:/i.test(artifactUri)) {
    return fileUriToPath(artifactUri);
  }
  throw invalid(
    `Cannot use artifact location '${artifactUri}' from a file store: it is not a local path`,
    "log to the tracking server that owns this artifact location (--tracking-uri http://…)",
  );
}

/** Copies a local file or directory's contents under `artifactUri/artifactPath`. */
export function copyIntoArtifacts(
  artifactUri: string,
  localPath: string,
  artifactPath = "",
  contentsOnly = false,
): void {
  validateArtifactPath(artifactPath);
  if (!exists(localPath)) throw notFound(`Cannot log artifact: ${localPath} does not exist`);
  const base = join(localArtifactDir(artifactUri), artifactPath);
  if (contentsOnly) copyTree(localPath, base);
  else copyTree(localPath, join(base, basename(localPath)));
}

/** Lists one level of a local artifact directory (paths relative to the artifact root). */
export function listLocalArtifacts(artifactUri: string, path = ""): ArtifactFile[] {
  validateArtifactPath(path);
  const root = localArtifactDir(artifactUri);
  const dir = join(root, path);
  if (!isDir(dir)) return [];
  const out: ArtifactFile[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const abs = join(dir, e.name);
    const rel = relative(root, abs).split("\\").join("/");
    out.push(
      e.isDirectory
        ? { path: rel, isDir: true }
        : { path: rel, isDir: false, fileSize: Deno.statSync(abs).size },
    );
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** The registry lookups URI resolution needs. */
type Registry = Pick<
  RegistryClient,
  "getModelVersion" | "getLatestVersions" | "getModelVersionByAlias" | "getModelVersionDownloadUri"
>;

/** The model version a `models:/` name form points to. */
export async function modelVersionOfUri(
  registry: Registry,
  uri: string,
): Promise<{ mv: ModelVersion; path: string }> {
  const p = parseModelsUri(uri);
  switch (p.kind) {
    case "version":
      return { mv: await registry.getModelVersion(p.name, p.version), path: p.path };
    case "alias":
      return { mv: await registry.getModelVersionByAlias(p.name, p.alias), path: p.path };
    case "latest":
    case "stage": {
      const stages = p.kind === "stage" ? [p.stage] : undefined;
      const versions = await registry.getLatestVersions(p.name, stages);
      const mv = versions.sort((a, b) => Number(b.version) - Number(a.version))[0];
      if (!mv) {
        throw notFound(
          p.kind === "stage"
            ? `No versions of model with name '${p.name}' and stage '${p.stage}' found`
            : `No versions of model with name '${p.name}' found`,
        );
      }
      return { mv, path: p.path };
    }
    default:
      throw invalid(
        `Cannot resolve '${uri}': MLflow 3 logged-model URIs (models:/<model_id>) are not supported`,
        "register the model and use models:/<name>/<version>",
      );
  }
}

/**
 * Resolves an artifact URI to a URI a store can read: `runs:/` via the run's artifact_uri, `models:/m-…` via the
 * logged model's artifact location, other `models:/` via the registry's download URI (which may itself be
 * `runs:/…` or `models:/m-…`), anything else unchanged.
 */
export async function resolveArtifactUri(
  uri: string,
  lookup: {
    runArtifactUri(runId: string): Promise<string>;
    registry: Registry;
    /** The artifact location of an MLflow 3 logged model (`models:/m-…`). */
    loggedModelUri?(modelId: string): Promise<string>;
  },
  depth = 0,
): Promise<string> {
  if (depth > 8) throw invalid(`Cannot resolve '${uri}': too many indirections`);
  if (uri.startsWith("runs:")) {
    const { runId, path } = parseRunsUri(uri);
    validateArtifactPath(path);
    return appendToUri(await lookup.runArtifactUri(runId), path);
  }
  if (uri.startsWith("models:")) {
    const parsed = parseModelsUri(uri);
    if (parsed.kind === "modelId" && lookup.loggedModelUri) {
      return appendToUri(await lookup.loggedModelUri(parsed.modelId), parsed.path);
    }
    const { mv, path } = await modelVersionOfUri(lookup.registry, uri);
    validateArtifactPath(path);
    const download = await lookup.registry.getModelVersionDownloadUri(mv.name, mv.version);
    return appendToUri(await resolveArtifactUri(download, lookup, depth + 1), path);
  }
  return uri;
}
