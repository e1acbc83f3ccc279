/**
 * The server's one error renderer: TrackingError, HTTPException and anything else become MLflow's
 * `{"error_code", "message"}` JSON with the matching HTTP status. Not the place for request validation.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { type ErrorCode, httpStatusOf, TrackingError } from "../tracking/mod.ts";

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

/**
 * `app.onError` handler: typed errors keep their code; unexpected ones are logged to stderr and answered with
 * 500 INTERNAL_ERROR without a stack trace.
 */
export function renderError(err: Error, _c: Context): Response {
  if (err instanceof TrackingError) {
    const message = err.hint ? `${err.message} (hint: ${err.hint})` : err.message;
    return errorResponse(err.code, message);
  }
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get("Content-Type")?.includes("json")) return res;
    const code = CODE_OF_STATUS[err.status] ?? "INTERNAL_ERROR";
    return errorResponse(code, err.message || res.statusText || `HTTP ${err.status}`, err.status);
  }
  console.error(`storyteller server: unexpected error: ${err.stack ?? err.message}`);
  return errorResponse("INTERNAL_ERROR", `Cannot handle the request: ${err.message || err.name}`);
}
