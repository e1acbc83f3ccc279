/**
 * `/api/2.0/mlflow/logged-models…`: MLflow 3's logged models — create, get, finalize (PATCH), delete, tags,
 * params, search and artifact listing/download — with the request and response shapes of MLflow's
 * service.proto. Where a model's files live (`mlflow-artifacts:` or `file:`) is ./sources.ts's business.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ServerContext } from "./context.ts";
import { missing, Params } from "./request.ts";
import { checkedSegments, resolveUnder } from "./paths.ts";
import { localArtifactRoot, resolveArtifactFile } from "./sources.ts";
import { fileResponse, listDir } from "./artifact_proxy.ts";
import { isDir, paginate, parseLoggedModelStatus, proto, TrackingError } from "../tracking/mod.ts";

/** The logged-model routes (mounted under the MLflow API prefix). */
export function loggedModelsApi(ctx: ServerContext): Hono {
  const { store } = ctx;
  const app = new Hono();
  const model = (m: Parameters<typeof proto.loggedModelToJson>[0]) => ({ model: proto.loggedModelToJson(m) });
  const record = (p: Params, name: string) =>
    Object.fromEntries(p.keyValues(name).map((t) => [t.key, t.value]));
  // Hono has already decoded the path parameter once; a second decode would turn `%252e` into `.`.
  const id = (c: Context) => c.req.param("model_id") ?? "";

  app.post("/logged-models", async (c) => {
    const p = await Params.of(c);
    const m = await store.createLoggedModel(p.req("experiment_id"), {
      name: p.str("name") || undefined,
      modelType: p.str("model_type") || undefined,
      sourceRunId: p.str("source_run_id") || undefined,
      params: record(p, "params"),
      tags: record(p, "tags"),
    });
    return c.json(model(m));
  });

  app.post("/logged-models/search", async (c) => {
    const p = await Params.of(c);
    const experimentIds = p.list("experiment_ids");
    if (experimentIds.length === 0) throw missing("experiment_ids");
    const datasets = p.objects("datasets").map((d, i) => {
      if (typeof d.dataset_name !== "string" || !d.dataset_name) throw missing(`datasets[${i}].dataset_name`);
      return {
        datasetName: d.dataset_name,
        datasetDigest: typeof d.dataset_digest === "string" && d.dataset_digest
          ? d.dataset_digest
          : undefined,
      };
    });
    const orderBy = p.objects("order_by").map((o, i) => {
      if (typeof o.field_name !== "string" || !o.field_name) throw missing(`order_by[${i}].field_name`);
      return {
        fieldName: o.field_name,
        ascending: o.ascending !== false,
        datasetName: typeof o.dataset_name === "string" && o.dataset_name ? o.dataset_name : undefined,
        datasetDigest: typeof o.dataset_digest === "string" && o.dataset_digest
          ? o.dataset_digest
          : undefined,
      };
    });
    const page = await store.searchLoggedModels({
      experimentIds,
      filterString: p.str("filter") || undefined,
      datasets,
      orderBy,
      maxResults: p.int("max_results") ?? 50,
      pageToken: p.str("page_token") || undefined,
    });
    return c.json({
      ...(page.models.length ? { models: page.models.map(proto.loggedModelToJson) } : {}),
      ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
    });
  });

  app.get("/logged-models/:model_id", async (c) => {
    const p = await Params.of(c);
    return c.json(model(await store.getLoggedModel(id(c), p.bool("allow_deleted") ?? false)));
  });

  app.patch("/logged-models/:model_id", async (c) => {
    const p = await Params.of(c);
    const status = p.raw("status");
    if (status === undefined || status === null || status === "") throw missing("status");
    return c.json(model(await store.finalizeLoggedModel(id(c), parseLoggedModelStatus(status))));
  });

  app.delete("/logged-models/:model_id", async (c) => {
    await store.deleteLoggedModel(id(c));
    return c.json({});
  });

  app.patch("/logged-models/:model_id/tags", async (c) => {
    const p = await Params.of(c);
    await store.setLoggedModelTags(id(c), record(p, "tags"));
    return c.json({});
  });

  app.delete("/logged-models/:model_id/tags/*", async (c) => {
    const path = new URL(c.req.url).pathname;
    let key: string;
    try {
      key = decodeURIComponent(path.slice(path.indexOf("/tags/") + "/tags/".length));
    } catch {
      throw new TrackingError("INVALID_PARAMETER_VALUE", "Cannot delete the tag: malformed percent-encoding");
    }
    if (!key) throw missing("tag_key");
    await store.deleteLoggedModelTag(id(c), key);
    return c.json({});
  });

  app.post("/logged-models/:model_id/params", async (c) => {
    const p = await Params.of(c);
    await store.logLoggedModelParams(id(c), record(p, "params"));
    return c.json({});
  });

  /** The model's artifact root as a local directory (null: an mlflow-artifacts root nothing was uploaded to). */
  const modelRoot = async (modelId: string) => {
    const m = await store.getLoggedModel(modelId);
    if (
      ctx.artifactsRoot !== null && !isDir(ctx.artifactsRoot) &&
      /^mlflow-artifacts:/i.test(m.artifactLocation)
    ) {
      return { m, base: null };
    }
    return { m, base: localArtifactRoot(ctx, m.artifactLocation) };
  };

  app.get("/logged-models/:model_id/artifacts/directories", async (c) => {
    const p = await Params.of(c);
    const { m, base } = await modelRoot(id(c));
    const segs = checkedSegments(p.str("artifact_directory_path") ?? "");
    const files = base !== null && isDir(base) ? listDir(resolveUnder(base, segs), base) : [];
    const page = paginate(files, undefined, p.str("page_token") || undefined, Infinity);
    return c.json({
      root_uri: m.artifactLocation,
      ...(page.items.length ? { files: page.items } : {}),
      ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
    });
  });

  app.get("/logged-models/:model_id/artifacts/files", async (c) => {
    const p = await Params.of(c);
    const path = p.str("artifact_file_path");
    if (!path) {
      throw new TrackingError(
        "BAD_REQUEST",
        'Request must include the "artifact_file_path" query parameter.',
      );
    }
    checkedSegments(path); // a bad path is refused before the model is even looked up
    const { m, base } = await modelRoot(id(c));
    if (base === null) throw new TrackingError("RESOURCE_DOES_NOT_EXIST", `Cannot find artifact '${path}'`);
    return await fileResponse(resolveArtifactFile(ctx, m.artifactLocation, path), path);
  });

  return app;
}
