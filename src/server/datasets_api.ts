/**
 * `POST /ajax-api/2.0/mlflow/experiments/search-datasets`: the dataset summaries MLflow's UI lists per experiment
 * (`{experiment_id, name, digest, context}` of every dataset input of the active runs), an ajax-only route in
 * MLflow too. Read from the run index, which holds each run's dataset inputs.
 */
import { Hono } from "hono";
import { Params } from "./request.ts";
import type { ServerContext } from "./context.ts";
import { TrackingError } from "../tracking/mod.ts";

/** MLflow's limits: experiment ids per request, summaries per answer. */
const MAX_EXPERIMENT_IDS = 20;
const MAX_SUMMARIES = 1000;

/** The route, relative to `/ajax-api/2.0/mlflow`. */
export function datasetsApi(ctx: ServerContext): Hono {
  const app = new Hono();
  app.post("/experiments/search-datasets", async (c) => {
    const ids = (await Params.of(c)).list("experiment_ids");
    if (!ids.length) {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        "SearchDatasets request must specify at least one experiment_id.",
      );
    }
    if (ids.length > MAX_EXPERIMENT_IDS) {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        `SearchDatasets request cannot specify more than ${MAX_EXPERIMENT_IDS} experiment_ids. Received ` +
          `${ids.length} experiment_ids.`,
      );
    }
    const seen = new Map<string, Record<string, string>>();
    for (const id of ids) {
      let pageToken: string | undefined;
      do {
        const page = await ctx.store.searchRuns({ experimentIds: [id], maxResults: 50000, pageToken });
        for (const run of page.runs) {
          for (const input of run.inputs?.datasetInputs ?? []) {
            const context = input.tags["mlflow.data.context"];
            const s = {
              experiment_id: id,
              name: input.dataset.name,
              digest: input.dataset.digest,
              ...(context !== undefined ? { context } : {}),
            };
            seen.set(JSON.stringify(s), s);
          }
        }
        pageToken = page.nextPageToken;
      } while (pageToken);
    }
    const summaries = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, MAX_SUMMARIES);
    return c.json(summaries.length ? { dataset_summaries: summaries.map(([, s]) => s) } : {});
  });
  return app;
}
