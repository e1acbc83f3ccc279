/**
 * The HTTP servers' public surface: the MLflow-compatible tracking server (`createServerApp`) and the pieces the
 * model server (src/serve) shares with it — `guard()` (headers, Host allowlist, auth, CORS, body limit) and
 * `listen()`.
 */
export {
  createServerApp,
  DEFAULT_MAX_ARTIFACT_BYTES,
  MLFLOW_COMPAT_VERSION,
  type ServerOptions,
} from "./app.ts";
export { DEFAULT_MAX_BODY_BYTES, guard, type GuardOptions, HTML_CSP, isLoopback } from "./guard.ts";
export { listen, type Listening, type ListenOptions } from "./listen.ts";
export { errorResponse, renderError } from "./errors.ts";
export { HASH_HINT, sha256Line } from "./auth.ts";
