/**
 * `/api/2.0/mlflow/registered-models/*` and `model-versions/*`: the model registry, including aliases, stages,
 * tags and download URIs. A version's `source` is checked by ./sources.ts before anything is written, except a
 * prompt version's (MLflow 3 prompts are registered models and versions tagged `mlflow.prompt.is_prompt`).
 */
import { Hono } from "hono";
import { missing, Params } from "./request.ts";
import type { ServerContext } from "./context.ts";
import { checkModelSource } from "./sources.ts";
import { IS_PROMPT_TAG, proto } from "../tracking/mod.ts";

/** The registry routes (mounted under the MLflow API prefix). */
export function registryApi(ctx: ServerContext): Hono {
  const { store } = ctx;
  const app = new Hono();
  const rm = (m: Parameters<typeof proto.registeredModelToJson>[0]) => ({
    registered_model: proto.registeredModelToJson(m),
  });
  const mv = (v: Parameters<typeof proto.modelVersionToJson>[0]) => ({
    model_version: proto.modelVersionToJson(v),
  });
  const value = (p: Params) => {
    const v = p.str("value");
    if (v === undefined) throw missing("value");
    return v;
  };

  app.post("/registered-models/create", async (c) => {
    const p = await Params.of(c);
    const m = await store.createRegisteredModel(p.req("name"), {
      description: p.str("description") || undefined,
      tags: p.tags(),
    });
    return c.json(rm(m));
  });
  app.get(
    "/registered-models/get",
    async (c) => c.json(rm(await store.getRegisteredModel((await Params.of(c)).req("name")))),
  );
  app.post("/registered-models/rename", async (c) => {
    const p = await Params.of(c);
    return c.json(rm(await store.renameRegisteredModel(p.req("name"), p.req("new_name"))));
  });
  app.patch("/registered-models/update", async (c) => {
    const p = await Params.of(c);
    return c.json(rm(await store.updateRegisteredModel(p.req("name"), p.str("description") ?? "")));
  });
  app.delete("/registered-models/delete", async (c) => {
    await store.deleteRegisteredModel((await Params.of(c)).req("name"));
    return c.json({});
  });
  const searchModels = async (p: Params) => {
    const page = await store.searchRegisteredModels({
      filterString: p.str("filter") || undefined,
      maxResults: p.int("max_results") ?? 100,
      orderBy: p.list("order_by"),
      pageToken: p.str("page_token") || undefined,
    });
    return {
      ...(page.registeredModels.length
        ? { registered_models: page.registeredModels.map(proto.registeredModelToJson) }
        : {}),
      ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
    };
  };
  app.get("/registered-models/search", async (c) => c.json(await searchModels(await Params.of(c))));
  app.post("/registered-models/search", async (c) => c.json(await searchModels(await Params.of(c))));
  const latest = async (p: Params) => {
    const versions = await store.getLatestVersions(p.req("name"), p.list("stages"));
    return versions.length ? { model_versions: versions.map(proto.modelVersionToJson) } : {};
  };
  app.get("/registered-models/get-latest-versions", async (c) => c.json(await latest(await Params.of(c))));
  app.post("/registered-models/get-latest-versions", async (c) => c.json(await latest(await Params.of(c))));
  app.post("/registered-models/set-tag", async (c) => {
    const p = await Params.of(c);
    await store.setRegisteredModelTag(p.req("name"), p.req("key"), value(p));
    return c.json({});
  });
  app.delete("/registered-models/delete-tag", async (c) => {
    const p = await Params.of(c);
    await store.deleteRegisteredModelTag(p.req("name"), p.req("key"));
    return c.json({});
  });
  app.post("/registered-models/alias", async (c) => {
    const p = await Params.of(c);
    await store.setRegisteredModelAlias(p.req("name"), p.req("alias"), p.req("version"));
    return c.json({});
  });
  app.delete("/registered-models/alias", async (c) => {
    const p = await Params.of(c);
    await store.deleteRegisteredModelAlias(p.req("name"), p.req("alias"));
    return c.json({});
  });
  app.get("/registered-models/alias", async (c) => {
    const p = await Params.of(c);
    return c.json(mv(await store.getModelVersionByAlias(p.req("name"), p.req("alias"))));
  });

  app.post("/model-versions/create", async (c) => {
    const p = await Params.of(c);
    const name = p.req("name");
    const source = p.req("source");
    const runId = p.str("run_id") || undefined;
    const tags = p.tags();
    // A prompt version (MLflow 3's prompt registry: tag `mlflow.prompt.is_prompt`) has no model files: its source
    // is a placeholder (`dummy-source`), which MLflow's server does not validate either.
    if (!Object.hasOwn(tags, IS_PROMPT_TAG)) checkModelSource(ctx, source);
    await store.getRegisteredModel(name);
    const v = await store.createModelVersion(name, source, {
      runId,
      description: p.str("description") || undefined,
      tags,
      runLink: p.str("run_link") || undefined,
      modelId: p.str("model_id") || undefined,
    });
    return c.json(mv(v));
  });
  app.get("/model-versions/get", async (c) => {
    const p = await Params.of(c);
    return c.json(mv(await store.getModelVersion(p.req("name"), p.req("version"))));
  });
  app.patch("/model-versions/update", async (c) => {
    const p = await Params.of(c);
    return c.json(
      mv(await store.updateModelVersion(p.req("name"), p.req("version"), p.str("description") ?? "")),
    );
  });
  app.delete("/model-versions/delete", async (c) => {
    const p = await Params.of(c);
    await store.deleteModelVersion(p.req("name"), p.req("version"));
    return c.json({});
  });
  app.post("/model-versions/transition-stage", async (c) => {
    const p = await Params.of(c);
    const archive = p.bool("archive_existing_versions");
    if (archive === undefined) throw missing("archive_existing_versions");
    const v = await store.transitionModelVersionStage(
      p.req("name"),
      p.req("version"),
      p.req("stage"),
      archive,
    );
    return c.json(mv(v));
  });
  app.get("/model-versions/get-download-uri", async (c) => {
    const p = await Params.of(c);
    return c.json({ artifact_uri: await store.getModelVersionDownloadUri(p.req("name"), p.req("version")) });
  });
  const searchVersions = async (p: Params) => {
    const page = await store.searchModelVersions({
      filterString: p.str("filter") || undefined,
      maxResults: p.int("max_results") ?? 10000,
      orderBy: p.list("order_by"),
      pageToken: p.str("page_token") || undefined,
    });
    return {
      ...(page.modelVersions.length
        ? { model_versions: page.modelVersions.map(proto.modelVersionToJson) }
        : {}),
      ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
    };
  };
  app.get("/model-versions/search", async (c) => c.json(await searchVersions(await Params.of(c))));
  app.post("/model-versions/search", async (c) => c.json(await searchVersions(await Params.of(c))));
  app.post("/model-versions/set-tag", async (c) => {
    const p = await Params.of(c);
    await store.setModelVersionTag(p.req("name"), p.req("version"), p.req("key"), value(p));
    return c.json({});
  });
  app.delete("/model-versions/delete-tag", async (c) => {
    const p = await Params.of(c);
    await store.deleteModelVersionTag(p.req("name"), p.req("version"), p.req("key"));
    return c.json({});
  });

  return app;
}
