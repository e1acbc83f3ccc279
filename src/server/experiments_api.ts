/**
 * `/api/2.0/mlflow/experiments/*`: create, get, get-by-name, search, update, delete, restore and experiment tags.
 * With artifact serving on, the store gives new experiments `mlflow-artifacts:/<id>` (see context.ts).
 */
import { Hono } from "hono";
import { enumOf, missing, Params, VIEW_TYPES } from "./request.ts";
import type { ServerContext } from "./context.ts";
import { proto, TrackingError } from "../tracking/mod.ts";

/** The experiments routes (mounted under the MLflow API prefix). */
export function experimentsApi(ctx: ServerContext): Hono {
  const { store } = ctx;
  const app = new Hono();

  app.post("/experiments/create", async (c) => {
    const p = await Params.of(c);
    const name = p.req("name");
    const artifactLocation = p.str("artifact_location") || undefined;
    const id = await store.createExperiment(name, { artifactLocation, tags: p.tags() });
    return c.json({ experiment_id: id });
  });

  app.get("/experiments/get", async (c) => {
    const p = await Params.of(c);
    const exp = await store.getExperiment(p.req("experiment_id"));
    return c.json({ experiment: proto.experimentToJson(exp) });
  });

  app.get("/experiments/get-by-name", async (c) => {
    const p = await Params.of(c);
    const name = p.req("experiment_name");
    const exp = await store.getExperimentByName(name);
    if (!exp) {
      throw new TrackingError("RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name}'`);
    }
    return c.json({ experiment: proto.experimentToJson(exp) });
  });

  const search = async (p: Params) => {
    const page = await store.searchExperiments({
      maxResults: p.int("max_results") ?? 1000,
      pageToken: p.str("page_token") || undefined,
      filterString: p.str("filter") || undefined,
      orderBy: p.list("order_by"),
      viewType: enumOf("view_type", p.str("view_type"), VIEW_TYPES),
    });
    return {
      experiments: page.experiments.map(proto.experimentToJson),
      ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
    };
  };
  app.post("/experiments/search", async (c) => c.json(await search(await Params.of(c))));
  app.get("/experiments/search", async (c) => c.json(await search(await Params.of(c))));

  app.post("/experiments/update", async (c) => {
    const p = await Params.of(c);
    const id = p.req("experiment_id");
    const newName = p.str("new_name");
    if (newName) await store.renameExperiment(id, newName);
    else await store.getExperiment(id);
    return c.json({});
  });
  app.post("/experiments/delete", async (c) => {
    await store.deleteExperiment((await Params.of(c)).req("experiment_id"));
    return c.json({});
  });
  app.post("/experiments/restore", async (c) => {
    await store.restoreExperiment((await Params.of(c)).req("experiment_id"));
    return c.json({});
  });
  app.post("/experiments/set-experiment-tag", async (c) => {
    const p = await Params.of(c);
    const id = p.req("experiment_id");
    const key = p.req("key");
    const value = p.str("value");
    if (value === undefined) throw missing("value");
    await store.setExperimentTag(id, key, value);
    return c.json({});
  });
  app.post("/experiments/delete-experiment-tag", async (c) => {
    const p = await Params.of(c);
    const id = p.req("experiment_id");
    await store.deleteExperimentTag(id, p.req("key"));
    return c.json({});
  });

  return app;
}
