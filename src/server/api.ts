/**
 * The MLflow REST API sub-app (`/api/2.0/mlflow/…`, mounted twice: also as `/ajax-api/2.0/mlflow/…`): the JSON
 * body limit plus the experiments, runs, artifacts-list and registry routes.
 */
import { Hono } from "hono";
import type { ServerContext } from "./context.ts";
import { bodyLimit } from "./body_limit.ts";
import { experimentsApi } from "./experiments_api.ts";
import { runsApi } from "./runs_api.ts";
import { registryApi } from "./registry_api.ts";
import { runArtifactsApi } from "./artifact_proxy.ts";
import { SearchCache } from "./search_cache.ts";

/** All MLflow API routes, relative to the `/api/2.0/mlflow` prefix. */
export function mlflowApi(ctx: ServerContext, maxBodyBytes: number): Hono {
  const app = new Hono();
  const cache = new SearchCache(ctx.store.root);
  app.use("*", bodyLimit(maxBodyBytes));
  // Any write through this server invalidates cached searches at once (see search_cache.ts).
  app.use("*", async (c, next) => {
    await next();
    if (c.req.method !== "GET" && !c.req.path.endsWith("/search")) cache.bump();
  });
  app.route("/", experimentsApi(ctx));
  app.route("/", runsApi(ctx, cache));
  app.route("/", runArtifactsApi(ctx));
  app.route("/", registryApi(ctx));
  return app;
}
