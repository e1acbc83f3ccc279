/**
 * The HTTP transport under the REST client: MLflow's JSON calls (`/api/2.0/mlflow/…`, GET as query strings, other
 * methods as JSON bodies), artifact-proxy uploads, retries of 429/5xx and network errors with exponential backoff,
 * and authentication from MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.
 */
import { errorCodeOfStatus, TrackingError } from "./errors.ts";
import type { Json } from "./proto.ts";

export interface RestClientOptions {
  token?: string;
  username?: string;
  password?: string;
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** First backoff delay in ms, doubled per retry (default 200), capped at 10 s. */
  backoffMs?: number;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** `{k: v}` → MLflow's `[{key, value}]`. */
export const kv = (r: Record<string, string> = {}) =>
  Object.entries(r).map(([key, value]) => ({ key, value }));

/** One tracking server's HTTP endpoint with retries and auth. */
export class RestHttp {
  readonly trackingUri: string;
  #auth?: string;
  #maxRetries: number;
  #backoffMs: number;

  constructor(url: string, options: RestClientOptions = {}) {
    this.trackingUri = url.replace(/\/+$/, "");
    const token = options.token ?? env("MLFLOW_TRACKING_TOKEN");
    const user = options.username ?? env("MLFLOW_TRACKING_USERNAME");
    const pass = options.password ?? env("MLFLOW_TRACKING_PASSWORD");
    if (token) this.#auth = `Bearer ${token}`;
    else if (user !== undefined && pass !== undefined) this.#auth = `Basic ${btoa(`${user}:${pass}`)}`;
    this.#maxRetries = options.maxRetries ?? 5;
    this.#backoffMs = options.backoffMs ?? 200;
  }

  /** One HTTP exchange with retries; returns the Response of the final attempt (ok or a non-retryable error). */
  async fetch(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#auth) headers.set("Authorization", this.#auth);
    for (let attempt = 0;; attempt++) {
      let res: Response | undefined;
      let netErr: unknown;
      try {
        res = await fetch(url, { ...init, headers });
      } catch (err) {
        netErr = err;
      }
      const retryable = res === undefined || RETRY_STATUSES.has(res.status);
      if (!retryable || attempt >= this.#maxRetries) {
        if (res) return res;
        throw new TrackingError(
          "TEMPORARILY_UNAVAILABLE",
          `Cannot reach tracking server ${this.trackingUri}: ${(netErr as Error)?.message}`,
          {
            hint: "check that the server is running and MLFLOW_TRACKING_URI / --tracking-uri is right",
            cause: netErr,
          },
        );
      }
      await res?.body?.cancel();
      const retryAfter = Number(res?.headers.get("Retry-After"));
      const delay = Number.isFinite(retryAfter) && retryAfter > 0
        ? retryAfter * 1000
        : Math.min(10_000, this.#backoffMs * 2 ** attempt);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** One MLflow API call (`endpoint` relative to `/api/2.0/mlflow/`); non-2xx answers become TrackingErrors. */
  async call(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    endpoint: string,
    body: Record<string, unknown> = {},
  ): Promise<Json> {
    let url = `${this.trackingUri}/api/2.0/mlflow/${endpoint}`;
    const init: RequestInit = { method };
    if (method === "GET") {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) {
        if (v === undefined || v === null) continue;
        for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
      }
      const qs = q.toString();
      if (qs) url += `?${qs}`;
    } else {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const res = await this.fetch(url, init);
    const text = await res.text();
    let json: Json = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch { /* not JSON: handled below */ }
    if (!res.ok) {
      const code = typeof json?.error_code === "string" ? json.error_code : errorCodeOfStatus(res.status);
      const message = typeof json?.message === "string"
        ? json.message
        : `HTTP ${res.status} from ${method} ${endpoint}`;
      throw new TrackingError(code, message);
    }
    return json;
  }

  /** `mlflow-artifacts:/<p>` (or `mlflow-artifacts://host/<p>`) → proxy URL of `<p>/<sub>`. */
  proxyUrl(uri: string, sub = ""): string {
    const path = uri.replace(/^mlflow-artifacts:(\/\/[^/]*)?/, "").replace(/^\/+/, "");
    const full = [path, sub].filter((s) => s).join("/");
    return `${this.trackingUri}/api/2.0/mlflow-artifacts/artifacts/${
      full.split("/").map(encodeURIComponent).join("/")
    }`;
  }

  /** Uploads one local file to `<artifactUri>/<artifactRelPath>` through the artifact proxy. */
  async putFile(artifactUri: string, localFile: string, artifactRelPath: string): Promise<void> {
    const res = await this.fetch(this.proxyUrl(artifactUri, artifactRelPath), {
      method: "PUT",
      body: await Deno.readFile(localFile),
    });
    const text = await res.text();
    if (!res.ok) {
      throw new TrackingError(
        errorCodeOfStatus(res.status),
        `Cannot upload artifact ${artifactRelPath}: HTTP ${res.status} ${text.slice(0, 200)}`,
      );
    }
  }
}
