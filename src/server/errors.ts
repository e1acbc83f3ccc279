/**
 * The server's one error renderer: TrackingError, HTTPException and anything else become MLflow's
 * `{"error_code", "message"}` JSON with the matching HTTP status. Not the place for request validation.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { type ErrorCode, httpStatusOf, TrackingError } from "../tracking/mod.ts";
import { debugLevel } from "../log.ts";

/** What a file-system failure of the store means to a client (no path), or undefined for other errors. */
function storageFailure(err: Error): string | undefined {
  const m = /\(os error (\d+)\)/.exec(err.message);
  const errno = m ? Number(m[1]) : undefined;
  if (errno === 30) return "the store's file system is read-only (EROFS)";
  if (errno === 28 || errno === 122) return "no space left on the store's device (ENOSPC)";
  if (err instanceof Deno.errors.PermissionDenied || errno === 13 || errno === 1) {
    return "the server may not write the store's files (EACCES)";
  }
  return undefined;
}

/** A JSON error response in MLflow's shape. */
export function errorResponse(code: ErrorCode, message: string, status = httpStatusOf(code)): Response {
  return new Response(JSON.stringify({ error_code: code, message }), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "ENDPOINT_NOT_FOUND",
  405: "BAD_REQUEST",
  413: "REQUEST_LIMIT_EXCEEDED",
  415: "BAD_REQUEST",
  429: "REQUEST_LIMIT_EXCEEDED",
};

/** An HTTPException whose response is MLflow-shaped JSON (used by middleware that must stop a request). */
export function httpError(status: number, code: ErrorCode, message: string): HTTPException {
  return new HTTPException(status as 400, { res: errorResponse(code, message, status), message });
}

/** Top-level directories an absolute server path starts with: the usual ones plus this machine's. */
function topLevelDirs(): string[] {
  const names = new Set(
    "bin boot dev etc home lib lib64 media mnt opt private proc root run sbin srv sys tmp usr var Users Volumes"
      .split(" "),
  );
  try {
    // Only with read access already granted: a permission prompt must never come from rendering an error.
    if (Deno.permissions.querySync({ name: "read", path: "/" }).state === "granted") {
      for (const e of Deno.readDirSync("/")) names.add(e.name);
    }
  } catch { /* the usual names will do */ }
  return [...names].map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
}

/** An absolute path (or `file:` URI) on this machine, up to a quote, space, `,`, `;`, `)` or a closing `: `. */
let absolutePath: RegExp | undefined;

/**
 * `message` with every absolute server path replaced by `<path>`: error answers never tell a client where the
 * store lives or what else is on the disk (the CLI, which runs on the same machine, keeps the full paths).
 */
export function redactPaths(message: string): string {
  absolutePath ??= new RegExp(
    `(?<![\\w.~-])(?:file://)?/(?:${topLevelDirs().join("|")})(?=[/'"\\s),;:]|$)(?:[^'"\\s),;:]|:(?!\\s|$))*`,
    "g",
  );
  return message.replace(absolutePath, "<path>");
}

/**
 * `app.onError` handler: typed errors keep their code; unexpected ones are logged to stderr and answered with
 * 500 INTERNAL_ERROR, their name only. No message carries an absolute server path (`redactPaths`).
 */
export function renderError(err: Error, _c: Context): Response {
  if (err instanceof TrackingError) {
    const message = err.hint ? `${err.message} (hint: ${err.hint})` : err.message;
    return errorResponse(err.code, redactPaths(message));
  }
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get("Content-Type")?.includes("json")) return res;
    const code = CODE_OF_STATUS[err.status] ?? "INTERNAL_ERROR";
    return errorResponse(
      code,
      redactPaths(err.message || res.statusText || `HTTP ${err.status}`),
      err.status,
    );
  }
  const storage = storageFailure(err);
  if (storage) {
    // A store the server cannot write (read-only, full, not permitted) is the operator's to fix: one log line,
    // and the client learns what happened without the path.
    console.error(`storyteller server: cannot change the store: ${err.message}`);
    return errorResponse("INTERNAL_ERROR", `Cannot change the tracking store: ${storage}`);
  }
  // One line unless STORYTELLER_DEBUG asks for the stack. The message may quote a path or a file (a JSON
  // SyntaxError quotes its input): the server log has it, the client gets the error's name.
  console.error(
    `storyteller server: unexpected error: ${
      debugLevel() > 0 ? err.stack ?? err.message : `${err.name}: ${err.message}`
    }`,
  );
  return errorResponse(
    "INTERNAL_ERROR",
    `Cannot handle the request: unexpected ${err.name} (see the server log)`,
  );
}
