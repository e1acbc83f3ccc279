/**
 * The REST client's artifact calls: uploads and downloads through MLflow's artifact proxy
 * (`/api/2.0/mlflow-artifacts/…`), or straight to the store when the run's artifact URI is local; listing.
 */
import { basename, join } from "node:path";
import { errorCodeOfStatus, TrackingError } from "./errors.ts";
import { listFilesRecursive } from "./_fs.ts";
import {
  copyIntoArtifacts,
  localArtifactDir,
  resolveArtifactUri,
  validateArtifactPath,
} from "./artifacts.ts";
import type * as P from "./proto.ts";
import type { RestHttp } from "./rest_http.ts";
import * as LM from "./rest_logged_models.ts";
import type { ArtifactFile, TrackingClient } from "./types.ts";
import { appendToUri, parseRunsUri } from "./uri.ts";

/** Uploads a file or directory (`contentsOnly`: its contents, not the directory itself) into a run's artifacts. */
export async function uploadArtifacts(
  http: RestHttp,
  client: TrackingClient,
  runId: string,
  localPath: string,
  artifactPath: string,
  contentsOnly: boolean,
): Promise<void> {
  validateArtifactPath(artifactPath);
  const { info } = await client.getRun(runId);
  if (!info.artifactUri.startsWith("mlflow-artifacts:")) {
    return copyIntoArtifacts(info.artifactUri, localPath, artifactPath, contentsOnly);
  }
  const st = await Deno.stat(localPath);
  if (!st.isDirectory) {
    return http.putFile(
      info.artifactUri,
      localPath,
      [artifactPath, basename(localPath)].filter((s) => s).join("/"),
    );
  }
  const base = contentsOnly ? artifactPath : [artifactPath, basename(localPath)].filter((s) => s).join("/");
  for (const rel of listFilesRecursive(localPath)) {
    await http.putFile(
      info.artifactUri,
      join(localPath, rel),
      [base, rel].filter((s) => s).join("/"),
    );
  }
}

/** `GET artifacts/list`: one level of a run's artifacts. */
export async function listArtifacts(http: RestHttp, runId: string, path?: string): Promise<ArtifactFile[]> {
  const j = await http.call("GET", "artifacts/list", { run_id: runId, path });
  return (j.files ?? []).map((f: P.Json) => ({
    path: f.path,
    isDir: !!f.is_dir,
    // Proto3 JSON leaves out a zero size: a file listed without one is empty (MLflow's servers and ours).
    fileSize: f.file_size === undefined ? (f.is_dir ? undefined : 0) : Number(f.file_size),
  }));
}

/**
 * Downloads an artifact URI (`runs:/`, `models:/`, `mlflow-artifacts:`…) into `dstDir` (or a temp dir); a local
 * URI is returned in place.
 */
export async function downloadArtifacts(
  http: RestHttp,
  client: TrackingClient,
  uri: string,
  dstDir?: string,
): Promise<string> {
  const resolved = await resolveUri(http, client, uri);
  if (!resolved.startsWith("mlflow-artifacts:")) return localArtifactDir(resolved);
  const dst = dstDir ?? await Deno.makeTempDir({ prefix: "storyteller-artifacts-" });
  const top = join(dst, basename(resolved.replace(/\/+$/, "")) || "artifacts");
  const fetchTo = async (uriPath: string, target: string) => {
    const res = await http.fetch(http.proxyUrl(uriPath), { method: "GET" });
    if (!res.ok) {
      throw new TrackingError(
        errorCodeOfStatus(res.status),
        `Cannot download ${uriPath}: HTTP ${res.status}`,
      );
    }
    await Deno.mkdir(join(target, ".."), { recursive: true });
    await Deno.writeFile(target, new Uint8Array(await res.arrayBuffer()));
  };
  const walk = async (dirUri: string, target: string): Promise<boolean> => {
    const rel = dirUri.replace(/^mlflow-artifacts:(\/\/[^/]*)?/, "").replace(/^\/+/, "");
    const res = await http.fetch(
      `${http.trackingUri}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(rel)}`,
      { method: "GET" },
    );
    const j = res.ok ? await res.json() : (await res.body?.cancel(), {});
    const files: P.Json[] = j.files ?? [];
    if (files.length === 0) return false;
    for (const f of files) {
      const name = String(f.path).split("/").pop()!;
      if (f.is_dir) await walk(appendToUri(dirUri, name), join(target, name));
      else await fetchTo(appendToUri(dirUri, name), join(target, name));
    }
    return true;
  };
  if (!(await walk(resolved, top))) await fetchTo(resolved, top);
  return top;
}

/**
 * Any artifact URI resolved to the server's (or a local) one. Like MLflow 3, `runs:/<run>/<name>/…` falls back
 * to the run's logged model `<name>` when the run's own artifacts have no `<name>` at their top level.
 */
async function resolveUri(http: RestHttp, client: TrackingClient, uri: string): Promise<string> {
  const resolved = await resolveArtifactUri(uri, {
    runArtifactUri: async (id) => (await client.getRun(id)).info.artifactUri,
    registry: client,
    loggedModelUri: async (id) => (await client.getLoggedModel(id)).artifactLocation,
  });
  if (!uri.startsWith("runs:")) return resolved;
  const { runId, path } = parseRunsUri(uri);
  const [name, ...rest] = path.split("/");
  if (!name || await runHasArtifact(http, runId, name)) return resolved;
  const { info } = await client.getRun(runId);
  const model = await LM.runLoggedModel(http, info.experimentId, runId, name);
  return model ? appendToUri(model.artifactLocation, rest.join("/")) : resolved;
}

/** Whether the run's artifact root lists `name`; true when the server cannot list it (the download will tell). */
async function runHasArtifact(http: RestHttp, runId: string, name: string): Promise<boolean> {
  try {
    return (await listArtifacts(http, runId)).some((f) => f.path === name);
  } catch (err) {
    if (err instanceof TrackingError) return true;
    throw err;
  }
}
