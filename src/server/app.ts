/**
 * `createServerApp`: assembles the tracking server — guard, `/health` and `/version`, the MLflow REST API under
 * `/api/2.0/mlflow` (and the UI's `/ajax-api/2.0/mlflow` copy), the artifact proxy, and the UI at `/`.
 * Routes live in their own files; this one only mounts them.
 */
import { Hono } from "hono";
import { VERSION } from "../version.ts";
import { DEFAULT_MAX_BODY_BYTES, guard } from "./guard.ts";
import { errorResponse, renderError } from "./errors.ts";
import { openServerContext } from "./context.ts";
import { mlflowApi } from "./api.ts";
import { datasetsApi } from "./datasets_api.ts";
import { artifactProxyApi, getArtifactRoutes } from "./artifact_proxy.ts";
import { uiApp } from "./ui.ts";

/** Options of the tracking server (`storyteller server` / `storyteller ui`). */
export interface ServerOptions {
  /** Path or `file:` URI of the mlruns store. */
  backendStoreUri: string;
  /** Path behind `mlflow-artifacts:/` (default ./mlartifacts); `null` turns artifact serving off. */
  artifactsDestination?: string | null;
  /** Bound host and port: used for the Host allowlist (default 127.0.0.1:5000). */
  host?: string;
  port?: number;
  authToken?: string;
  htpasswdFile?: string;
  corsOrigins?: string[];
  allowedHosts?: string[];
  /** JSON API body limit (default 16 MiB). */
  maxBodyBytes?: number;
  /** Artifact upload limit (default 2 GiB). */
  maxArtifactBytes?: number;
  /** Mount the web UI (uiApp from ./ui.ts) at `/`. */
  ui?: boolean;
}

/**
 * What `GET /version` answers: the MLflow release whose REST API, stores and client behaviour this server follows
 * (shared/spec/mlflow.md). Tracing is not implemented: a 3.x client that logs spans gets ENDPOINT_NOT_FOUND.
 */
export const MLFLOW_COMPAT_VERSION = "3.6.0";

/** Default artifact upload limit. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 2 * 1024 ** 3;

/**
 * Builds the tracking server app synchronously (it opens the store and reads the htpasswd file at once, so a bad
 * option fails here with a UsageError, before anything listens). Serve it with `listen()` or call
 * `app.request()` in tests.
 *
 * @example
 * ```ts
 * const app = createServerApp({ backendStoreUri: "./mlruns" });
 * const res = await app.request("/api/2.0/mlflow/experiments/get?experiment_id=0");
 * ```
 */
export function createServerApp(opts: ServerOptions): Hono {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxArtifact = opts.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const dest = opts.artifactsDestination === undefined ? "./mlartifacts" : opts.artifactsDestination;
  const ctx = openServerContext(opts.backendStoreUri, dest, maxArtifact);

  const app = new Hono();
  app.onError(renderError);
  app.use(
    "*",
    guard({
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 5000,
      authToken: opts.authToken,
      htpasswdFile: opts.htpasswdFile,
      allowedHosts: opts.allowedHosts,
      corsOrigins: opts.corsOrigins,
      maxBodyBytes: ctx.artifactsRoot !== null ? Math.max(maxBody, maxArtifact) : maxBody,
    }),
  );
  app.get("/health", (c) => c.html("OK"));
  // MLflow clients read /version as the server's MLflow version and enable features by it (MLflow 3.4+ span
  // logging, for one): answer the MLflow release whose REST API this server follows; storyteller's own version
  // goes in a header.
  app.get("/version", (c) => {
    c.header("X-Storyteller-Version", VERSION);
    return c.text(MLFLOW_COMPAT_VERSION);
  });

  const api = mlflowApi(ctx, maxBody);
  app.route("/api/2.0/mlflow", api);
  app.route("/ajax-api/2.0/mlflow", datasetsApi(ctx));
  app.route("/ajax-api/2.0/mlflow", api);
  if (ctx.artifactsRoot !== null) {
    const proxy = artifactProxyApi(ctx);
    app.route("/api/2.0/mlflow-artifacts", proxy);
    app.route("/ajax-api/2.0/mlflow-artifacts", proxy);
  }
  app.route("/", getArtifactRoutes(ctx));
  // The UI's own endpoints (/api/storyteller/…) must come before the API catch-alls.
  if (opts.ui) app.route("/", uiApp({ client: ctx.store, artifactsRoot: ctx.artifactsRoot }));
  app.all("/api/*", (c) => endpointNotFound(c.req.method, c.req.path));
  app.all("/ajax-api/*", (c) => endpointNotFound(c.req.method, c.req.path));
  app.notFound((c) => endpointNotFound(c.req.method, c.req.path));
  return app;
}

function endpointNotFound(method: string, path: string): Response {
  return errorResponse("ENDPOINT_NOT_FOUND", `Cannot ${method} ${path}: no such endpoint`);
}
