/** In-process MLflow REST calls for the server contract tests: `call` (any status), `ok` (200) and `err` (an error). */
import assert from "node:assert/strict";
import type { Hono } from "hono";

// deno-lint-ignore no-explicit-any
export type J = Record<string, any>;

/** Callers bound to `app`; an endpoint without a leading "/" is relative to `/api/2.0/mlflow/` (or `prefix`). */
export function apiClient(app: Hono) {
  const call = async (
    method: string,
    endpoint: string,
    body?: J,
    prefix = "/api/2.0/mlflow/",
  ): Promise<{ status: number; json: J }> => {
    let url = endpoint.startsWith("/") ? endpoint : `${prefix}${endpoint}`;
    const init: RequestInit = { method };
    if (method === "GET" && body) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) for (const x of [v].flat()) q.append(k, String(x));
      url += `?${q}`;
    } else if (method !== "GET") {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body ?? {});
    }
    const res = await app.request(url, init);
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) as J : {} };
  };
  const ok = async (method: string, endpoint: string, body?: J, prefix?: string): Promise<J> => {
    const r = await call(method, endpoint, body, prefix);
    assert.equal(r.status, 200, `${method} ${endpoint}: ${JSON.stringify(r.json)}`);
    return r.json;
  };
  /** Asserts the status and MLflow error code; returns the message. */
  const err = async (status: number, code: string, method: string, endpoint: string, body?: J) => {
    const r = await call(method, endpoint, body);
    assert.equal(r.status, status, `${method} ${endpoint}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.error_code, code, `${method} ${endpoint}: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.message, "string");
    return r.json.message as string;
  };
  return { call, ok, err };
}
