// deno-lint-ignore-file no-control-regex -- refusing control characters in paths is the point
/**
 * Safe artifact paths: a client-supplied path is decoded exactly once, checked segment by segment (no absolute
 * paths, `..`, `.`, empty segments, backslashes, NUL/control characters, `#`/`;`/`?`, drive letters, leftover
 * percent-encoded dots/slashes), then resolved through real paths so a symlink can never lead outside the root.
 * The patterns of MLflow's path-traversal advisories are the test corpus (paths_test.ts).
 */
import { dirname, join, relative, sep } from "node:path";
import { TrackingError } from "../tracking/mod.ts";

function refuse(path: string, why: string): TrackingError {
  return new TrackingError(
    "INVALID_PARAMETER_VALUE",
    `Invalid path '${path.replace(/[\x00-\x1f]/g, "?").slice(0, 200)}': ${why}`,
  );
}

/**
 * Splits an already-decoded relative artifact path into checked segments ("" → []). Throws
 * INVALID_PARAMETER_VALUE for anything that could name a different place after another decode or a join.
 */
export function checkedSegments(path: string): string[] {
  if (path === "" || path === "/") return [];
  if (/[\x00-\x1f\x7f]/.test(path)) throw refuse(path, "control characters are not allowed");
  if (path.includes("\\")) throw refuse(path, "backslashes are not allowed");
  if (/[#;?]/.test(path)) throw refuse(path, "'#', ';' and '?' are not allowed");
  if (path.startsWith("/") || path.startsWith("~")) throw refuse(path, "absolute paths are not allowed");
  if (/%(2e|2f|5c|00|25)/i.test(path)) throw refuse(path, "percent-encoded characters remain after decoding");
  const segments = path.replace(/\/$/, "").split("/");
  for (const s of segments) {
    if (s === "") throw refuse(path, "empty path segments ('//') are not allowed");
    if (s === "." || s === "..") throw refuse(path, "'.' and '..' segments are not allowed");
    if (/^[a-z]:/i.test(s)) throw refuse(path, "drive letters ('C:') are not allowed");
  }
  return segments;
}

/** Decodes a raw (percent-encoded) URL path tail once and checks it; `%2F` inside a segment is refused. */
export function decodeUrlPath(raw: string): string[] {
  const out: string[] = [];
  for (const part of raw.split("/")) {
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      throw refuse(raw, "malformed percent-encoding");
    }
    if (seg.includes("/")) throw refuse(raw, "encoded '/' inside a segment is not allowed");
    out.push(seg);
  }
  const joined = out.join("/");
  return checkedSegments(joined);
}

function realOrNull(path: string): string | null {
  try {
    return Deno.realPathSync(path);
  } catch {
    return null;
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && !/^[a-z]:/i.test(rel));
}

/**
 * The absolute path of `segments` under `root`, after checking that the deepest existing ancestor (and the
 * target itself, when it exists) really lies under the real root. `forWrite` also refuses an existing symlink
 * as the target so a write cannot follow it.
 */
export function resolveUnder(root: string, segments: string[], forWrite = false): string {
  const realRoot = realOrNull(root);
  if (realRoot === null) {
    // The root is a server path: not named in an answer to a client.
    throw new TrackingError("RESOURCE_DOES_NOT_EXIST", "Cannot find the artifact root: it does not exist");
  }
  const target = join(realRoot, ...segments);
  let probe = target;
  let real = realOrNull(probe);
  while (real === null && probe !== realRoot) {
    probe = dirname(probe);
    real = realOrNull(probe);
  }
  if (real === null || !inside(realRoot, real)) {
    throw refuse(segments.join("/"), "it resolves outside the artifact root");
  }
  if (forWrite) {
    try {
      if (Deno.lstatSync(target).isSymlink) throw refuse(segments.join("/"), "it is a symbolic link");
    } catch (err) {
      if (err instanceof TrackingError) throw err;
    }
  }
  return target;
}
