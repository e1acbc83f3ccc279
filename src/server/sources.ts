// deno-lint-ignore-file no-control-regex -- refusing control characters in paths is the point
/**
 * Which locations the server will read artifacts from: the backend store and the artifacts destination, never
 * anywhere else. Checks model-version sources (CVE-2023-1177 and its bypasses: local paths and `file:` URIs
 * outside the roots, `..`, backslashes, `#`/`?` smuggling) and maps run artifact URIs to local directories.
 */
import { isAbsolute, resolve } from "node:path";
import type { ArtifactRoots, ServerContext } from "./context.ts";
import { checkedSegments, resolveUnder } from "./paths.ts";
import { TrackingError } from "../tracking/mod.ts";

function refuse(source: string, why: string): TrackingError {
  return new TrackingError(
    "INVALID_PARAMETER_VALUE",
    `Invalid model version source: '${source.slice(0, 300)}': ${why}`,
  );
}

function decodeOnce(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw refuse(s, "malformed percent-encoding");
  }
}

function hasDotDot(s: string): boolean {
  return s.split(/[\\/]/).some((seg) => seg === ".." || /^\.\.[?#;]/.test(seg) || /[?#;]\.\.$/.test(seg));
}

/** The artifact roots this server may read: real paths of the store root and the artifacts destination. */
function roots(ctx: ArtifactRoots): string[] {
  return [ctx.store.root, ...(ctx.artifactsRoot !== null ? [ctx.artifactsRoot] : [])];
}

/** The local directory of an absolute path when it lies under one of the roots (real paths), else null. */
export function localUnderRoots(ctx: ArtifactRoots, absPath: string): { root: string; path: string } | null {
  for (const root of roots(ctx)) {
    const rel = absPath.startsWith(root + "/")
      ? absPath.slice(root.length + 1)
      : absPath === root
      ? ""
      : null;
    if (rel === null) continue;
    try {
      return { root, path: resolveUnder(root, checkedSegments(rel)) };
    } catch {
      return null;
    }
  }
  return null;
}

/** A `file:` URI or plain path → absolute local path (refusing remote hosts, queries and fragments). */
function localPathOf(uri: string, original: string): string {
  if (/^file:/i.test(uri)) {
    let rest = uri.slice(5);
    if (rest.startsWith("//")) {
      rest = rest.slice(2);
      const slash = rest.indexOf("/");
      const host = slash < 0 ? rest : rest.slice(0, slash);
      if (host && host.toLowerCase() !== "localhost") {
        throw refuse(original, "remote file: hosts are not allowed");
      }
      rest = slash < 0 ? "/" : rest.slice(slash);
    }
    return resolve(rest);
  }
  return isAbsolute(uri) ? resolve(uri) : resolve(Deno.cwd(), uri);
}

/**
 * Throws INVALID_PARAMETER_VALUE unless `source` is safe to register: `runs:/`, `models:/` and
 * `mlflow-artifacts:` URIs without traversal, local paths / `file:` URIs inside the artifact roots, and other
 * remote URIs without traversal.
 */
export function checkModelSource(ctx: ServerContext, source: string): void {
  const decoded = decodeOnce(source);
  if (/[\x00-\x1f]/.test(decoded)) throw refuse(source, "control characters are not allowed");
  if (hasDotDot(source) || hasDotDot(decoded) || /%2e%2e/i.test(decoded)) {
    throw refuse(source, "'..' path segments are not allowed");
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(decoded)?.[1]?.toLowerCase();
  const isLocal = scheme === undefined || scheme === "file" || /^[a-z]:[\\/]/i.test(decoded);
  if (!isLocal) {
    if (decoded.includes("\\")) throw refuse(source, "backslashes are not allowed");
    return;
  }
  if (decoded.includes("\\")) throw refuse(source, "backslashes are not allowed");
  if (/[#?]/.test(decoded)) {
    throw refuse(source, "query strings and fragments are not allowed in local sources");
  }
  const path = localPathOf(decoded, source);
  if (!localUnderRoots(ctx, path)) {
    throw refuse(source, "local sources must lie inside the tracking server's artifact roots");
  }
}

/**
 * The local directory behind a run (or model) artifact URI: `mlflow-artifacts:/<p>` under the artifacts
 * destination, `file:` under one of the roots. Anything else is refused.
 */
export function localArtifactRoot(ctx: ArtifactRoots, artifactUri: string): string {
  if (/^mlflow-artifacts:/i.test(artifactUri)) {
    if (ctx.artifactsRoot === null) {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        `Cannot serve '${artifactUri}': artifact serving is off on this server`,
      );
    }
    const rel = artifactUri.replace(/^mlflow-artifacts:(\/\/[^/]*)?/i, "").replace(/^\/+/, "");
    return resolveUnder(ctx.artifactsRoot, checkedSegments(decodeOnce(rel)));
  }
  if (/^file:/i.test(artifactUri) || !/^[a-z][a-z0-9+.-]*:/i.test(artifactUri)) {
    const found = localUnderRoots(ctx, localPathOf(decodeOnce(artifactUri), artifactUri));
    if (found) return found.path;
    // The location itself is a server path: the message names neither it nor the roots.
    throw new TrackingError(
      "PERMISSION_DENIED",
      "Cannot serve these artifacts: their location is outside the tracking server's artifact roots",
    );
  }
  throw new TrackingError(
    "INVALID_PARAMETER_VALUE",
    `Cannot serve artifacts at '${artifactUri}': only file: and mlflow-artifacts: locations are served`,
  );
}

/**
 * The one resolver of every route that serves an artifact file: `path` (relative, checked segment by segment)
 * under the local root of `artifactUri`, resolved through real paths so that neither the location nor a symlink
 * inside it can lead outside the server's artifact roots. Throws INVALID_PARAMETER_VALUE or PERMISSION_DENIED.
 */
export function resolveArtifactFile(ctx: ArtifactRoots, artifactUri: string, path: string): string {
  const segs = checkedSegments(path);
  if (segs.length === 0) {
    throw new TrackingError("INVALID_PARAMETER_VALUE", "Cannot download: 'path' is empty");
  }
  return resolveUnder(localArtifactRoot(ctx, artifactUri), segs);
}
