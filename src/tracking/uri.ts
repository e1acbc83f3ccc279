/**
 * URI forms: tracking URIs (plain path, `file:`, `http(s):`), `file://` ↔ path conversion as Python's pathlib
 * does it, and the grammar of `runs:/<id>/<path>` and `models:/<name>/<version|stage|latest>`, `models:/<name>@<alias>`.
 * Resolution against a store lives in artifacts.ts; this file only parses.
 */
import { isAbsolute, resolve } from "node:path";
import { invalid } from "./errors.ts";

export type TrackingTarget = { kind: "file"; root: string; uri: string } | { kind: "http"; url: string };

/** The tracking URI in effect: the explicit one, else MLFLOW_TRACKING_URI, else ./mlruns. */
export function resolveTrackingUri(explicit?: string): TrackingTarget {
  let uri = explicit;
  if (!uri) {
    try {
      uri = Deno.env.get("MLFLOW_TRACKING_URI") || undefined;
    } catch { /* no env permission */ }
  }
  uri ??= "./mlruns";
  if (/^https?:\/\//i.test(uri)) return { kind: "http", url: uri.replace(/\/+$/, "") };
  if (/^file:/i.test(uri)) {
    const root = fileUriToPath(uri);
    return { kind: "file", root, uri: pathToFileUri(root) };
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) && !/^[a-z]:[\\/]/i.test(uri)) {
    throw invalid(
      `Cannot use tracking URI '${uri}': only file paths, file: and http(s): URIs are supported`,
      "use ./mlruns, file:///abs/path or http://host:port",
    );
  }
  const root = isAbsolute(uri) ? resolve(uri) : resolve(Deno.cwd(), uri);
  return { kind: "file", root, uri: pathToFileUri(root) };
}

const SAFE = /[A-Za-z0-9_.\-~\/]/;

/** `file:///abs/path`, percent-encoded like pathlib's `as_uri()`. */
export function pathToFileUri(absPath: string): string {
  const bytes = new TextEncoder().encode(absPath);
  let out = "";
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += b < 128 && SAFE.test(ch) ? ch : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return "file://" + out;
}

/** Local path of a `file:` URI (or a plain path). */
export function fileUriToPath(uri: string): string {
  if (!/^file:/i.test(uri)) return resolve(uri);
  let rest = uri.slice(5);
  if (rest.startsWith("//")) {
    rest = rest.slice(2);
    const slash = rest.indexOf("/");
    const host = slash < 0 ? rest : rest.slice(0, slash);
    if (host && host !== "localhost") {
      throw invalid(`Cannot use file URI '${uri}': remote hosts are not supported`);
    }
    rest = slash < 0 ? "/" : rest.slice(slash);
  }
  rest = rest.split("?")[0].split("#")[0];
  const path = decodeURIComponent(rest);
  return isAbsolute(path) ? path : resolve(path);
}

/** Appends POSIX path segments to a URI's path (query kept), as MLflow's `append_to_uri_path`. */
export function appendToUri(uri: string, ...paths: string[]): string {
  const q = uri.indexOf("?");
  const base = q < 0 ? uri : uri.slice(0, q);
  const query = q < 0 ? "" : uri.slice(q);
  let out = base;
  for (const p of paths) {
    if (!p) continue;
    out = out.replace(/\/+$/, "") + "/" + p.replace(/^\/+/, "");
  }
  return out + query;
}

/** `runs:/<run_id>/<path>` → its parts (path may be ""). */
export function parseRunsUri(uri: string): { runId: string; path: string } {
  const m = /^runs:\/+([^/]+)(?:\/(.*))?$/.exec(uri);
  if (!m) {
    throw invalid(
      `Not a proper runs:/ URI: ${uri}. Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'`,
    );
  }
  return { runId: m[1], path: (m[2] ?? "").replace(/\/+$/, "") };
}

export type ModelsUri =
  | { kind: "version"; name: string; version: string; path: string }
  | { kind: "latest"; name: string; path: string }
  | { kind: "stage"; name: string; stage: string; path: string }
  | { kind: "alias"; name: string; alias: string; path: string }
  | { kind: "modelId"; modelId: string; path: string };

const STAGES = ["None", "Staging", "Production", "Archived"];

/** Canonical stage name (case-insensitive), or throws "Invalid Model Version stage". */
export function canonicalStage(stage: string): string {
  const s = STAGES.find((x) => x.toLowerCase() === stage.toLowerCase());
  if (!s) {
    throw invalid(`Invalid Model Version stage: ${stage}. Value must be one of ${STAGES.join(", ")}.`);
  }
  return s;
}

/** Parses `models:/…` (MLflow's grammar); trailing sub-paths after the version or alias are kept in `path`. */
export function parseModelsUri(uri: string): ModelsUri {
  const m = /^models:\/(?!\/)(.+)$/.exec(uri);
  if (!m) {
    throw invalid(
      `Not a proper models:/ URI: ${uri}. Models URIs must be of the form 'models:/model_name/suffix' or ` +
        `'models:/model_name@alias'`,
    );
  }
  const parts = m[1].split("/");
  const first = parts[0];
  const at = first.lastIndexOf("@");
  if (at > 0) {
    return {
      kind: "alias",
      name: first.slice(0, at),
      alias: first.slice(at + 1),
      path: parts.slice(1).join("/"),
    };
  }
  if (parts.length === 1 || parts[1] === "") return { kind: "modelId", modelId: first, path: "" };
  const name = first, suffix = parts[1], path = parts.slice(2).join("/");
  if (/^\d+$/.test(suffix)) return { kind: "version", name, version: suffix, path };
  if (suffix.toLowerCase() === "latest") return { kind: "latest", name, path };
  return { kind: "stage", name, stage: canonicalStage(suffix), path };
}
