/**
 * The MLflow REST API sub-app (`/api/2.0/mlflow/…`, mounted twice: also as `/ajax-api/2.0/mlflow/…`): the JSON
 * body limit plus the experiments, runs, logged-models, artifacts-list and registry routes.
 */
import { Hono } from "hono";
import type { ServerContext } from "./context.ts";
import { bodyLimit } from "./body_limit.ts";
import { experimentsApi } from "./experiments_api.ts";
import { runsApi } from "./runs_api.ts";
import { registryApi } from "./registry_api.ts";
import { runArtifactsApi } from "./artifact_proxy.ts";
import { loggedModelsApi } from "./logged_models_api.ts";

/** All MLflow API routes, relative to the `/api/2.0/mlflow` prefix. */
export function mlflowApi(ctx: ServerContext, maxBodyBytes: number): Hono {
  const app = new Hono();
  app.use("*", bodyLimit(maxBodyBytes));
  app.route("/", experimentsApi(ctx));
  app.route("/", runsApi(ctx));
  app.route("/", loggedModelsApi(ctx));
  app.route("/", runArtifactsApi(ctx));
  app.route("/", registryApi(ctx));
  return app;
}
