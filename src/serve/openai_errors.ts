/**
 * OpenAI's error shape for the `/v1/*` routes: `{"error": {"message", "type", "param", "code"}}`, which the
 * official SDKs (and vLLM's and llama.cpp's servers) use, where MLflow's routes keep `{"error_code", "message"}`.
 * `code` carries our MLflow error code (e.g. "DEADLINE_EXCEEDED"), so both APIs name a failure alike. Not the
 * rendering of MLflow errors (src/server/errors.ts).
 */

/** OpenAI's `error` object. */
export interface OpenAIErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** OpenAI-style `type` by HTTP status (the names llama.cpp's server uses). */
function typeOf(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 408 || status === 504) return "timeout_error";
  if (status === 503) return "unavailable_error";
  return status < 500 ? "invalid_request_error" : "server_error";
}

/** The `error` object of a failure with `status`. */
export function openAIErrorBody(
  status: number,
  message: string,
  code: string | null,
  param: string | null = null,
): OpenAIErrorBody {
  return { message, type: typeOf(status), param, code };
}

/** A JSON error response in OpenAI's shape. */
export function openAIErrorResponse(
  status: number,
  message: string,
  code: string | null,
  param: string | null = null,
  headers?: HeadersInit,
): Response {
  return Response.json({ error: openAIErrorBody(status, message, code, param) }, { status, headers });
}

/**
 * `res` in OpenAI's shape when it is an MLflow-shaped JSON error (the guard's 401/403/413 and the like), with its
 * status and headers; any other response unchanged.
 */
export async function toOpenAIError(res: Response): Promise<Response> {
  if (res.status < 400 || !(res.headers.get("Content-Type") ?? "").includes("json")) return res;
  let body: unknown;
  try {
    body = await res.clone().json();
  } catch {
    return res;
  }
  const mlflow = body as { error_code?: unknown; message?: unknown };
  if (typeof mlflow?.error_code !== "string" || typeof mlflow.message !== "string") return res;
  await res.body?.cancel();
  const headers = new Headers(res.headers);
  headers.delete("Content-Length");
  return openAIErrorResponse(res.status, mlflow.message, mlflow.error_code, null, headers);
}
