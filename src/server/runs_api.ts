/**
 * `/api/2.0/mlflow/runs/*` and `metrics/*`: run lifecycle, logging (metric, param, tag, batch, 2.x model, MLflow 3
 * inputs and outputs), search and metric histories (paged, and the UI's sampled bulk-interval form).
 */
import { Hono } from "hono";
import { enumOf, missing, Params, parseDouble, VIEW_TYPES } from "./request.ts";
import type { ServerContext } from "./context.ts";
import {
  type DatasetInput,
  exactInt,
  invalid,
  type Metric,
  paginate,
  proto,
  RUN_STATUSES,
} from "../tracking/mod.ts";

function metricOf(o: Record<string, unknown>, where: string): Metric & { modelId?: string } {
  if (typeof o.key !== "string" || !o.key) throw missing(`${where}.key`);
  if (o.value === undefined || o.value === null) throw missing(`${where}.value`);
  if (o.timestamp === undefined || o.timestamp === null) throw missing(`${where}.timestamp`);
  // int64 fields: exact within ±(2^53 − 1), refused beyond (a JSON number there is already rounded).
  const int = (name: string, v: unknown) => exactInt(`${where}.${name}`, v);
  const m: Metric & { modelId?: string } = {
    key: o.key,
    value: parseDouble(`${where}.value`, o.value),
    timestamp: int("timestamp", o.timestamp),
    step: o.step === undefined || o.step === null ? 0 : int("step", o.step),
  };
  if (typeof o.dataset_name === "string" && o.dataset_name) {
    m.datasetName = o.dataset_name;
    m.datasetDigest = typeof o.dataset_digest === "string" ? o.dataset_digest : "";
  }
  if (typeof o.model_id === "string" && o.model_id) m.modelId = o.model_id;
  return m;
}

/** Evenly spaced picks (first and last included) when there are more steps than `max`. */
export function sampleSteps(steps: number[], max: number): Set<number> {
  const sorted = [...new Set(steps)].sort((a, b) => a - b);
  if (sorted.length <= max) return new Set(sorted);
  const out = new Set<number>();
  for (let i = 0; i < max; i++) out.add(sorted[Math.round((i * (sorted.length - 1)) / Math.max(1, max - 1))]);
  return out;
}

/** The runs and metrics routes (mounted under the MLflow API prefix). */
export function runsApi(ctx: ServerContext): Hono {
  const { store } = ctx;
  const app = new Hono();
  /** Metrics logged with a `model_id` also go to that logged model (MLflow 3). */
  const logModelMetrics = async (runId: string, metrics: (Metric & { modelId?: string })[]) => {
    const byModel = new Map<string, Metric[]>();
    for (const { modelId, ...m } of metrics) {
      if (modelId) byModel.set(modelId, [...(byModel.get(modelId) ?? []), m]);
    }
    for (const [modelId, ms] of byModel) {
      await store.getLoggedModel(modelId);
      store.logLoggedModelMetrics(modelId, runId, ms);
    }
  };

  app.post("/runs/create", async (c) => {
    const p = await Params.of(c);
    const tags = p.tags();
    const run = await store.createRun({
      experimentId: p.str("experiment_id") ?? "0",
      userId: p.str("user_id") ?? tags["mlflow.user"] ?? "",
      runName: p.str("run_name") || undefined,
      startTime: p.int("start_time") ?? Date.now(),
      tags,
    });
    return c.json({ run: proto.runToJson(run) });
  });

  app.get("/runs/get", async (c) => {
    const run = await store.getRun((await Params.of(c)).runId());
    return c.json({ run: proto.runToJson(run) });
  });

  app.post("/runs/update", async (c) => {
    const p = await Params.of(c);
    const info = await store.updateRun(p.runId(), {
      status: enumOf("status", p.str("status"), RUN_STATUSES),
      endTime: p.int("end_time"),
      runName: p.str("run_name") || undefined,
    });
    return c.json({ run_info: proto.runInfoToJson(info) });
  });
  app.post("/runs/delete", async (c) => {
    await store.deleteRun((await Params.of(c)).runId());
    return c.json({});
  });
  app.post("/runs/restore", async (c) => {
    await store.restoreRun((await Params.of(c)).runId());
    return c.json({});
  });

  app.post("/runs/log-metric", async (c) => {
    const p = await Params.of(c);
    const runId = p.runId();
    const m = metricOf({
      key: p.raw("key"),
      value: p.raw("value"),
      timestamp: p.raw("timestamp"),
      step: p.raw("step"),
      dataset_name: p.raw("dataset_name"),
      dataset_digest: p.raw("dataset_digest"),
      model_id: p.raw("model_id"),
    }, "metric");
    if (m.modelId) await store.getLoggedModel(m.modelId);
    const { modelId: _, ...metric } = m;
    await store.logBatch(runId, { metrics: [metric] });
    await logModelMetrics(runId, [m]);
    return c.json({});
  });
  app.post("/runs/log-parameter", async (c) => {
    const p = await Params.of(c);
    const runId = p.runId();
    const key = p.req("key");
    const value = p.str("value");
    if (value === undefined) throw missing("value");
    await store.logParam(runId, key, value);
    return c.json({});
  });
  app.post("/runs/set-tag", async (c) => {
    const p = await Params.of(c);
    const runId = p.runId();
    const key = p.req("key");
    const value = p.str("value");
    if (value === undefined) throw missing("value");
    await store.setTag(runId, key, value);
    return c.json({});
  });
  app.post("/runs/delete-tag", async (c) => {
    const p = await Params.of(c);
    await store.deleteTag(p.runId(), p.req("key"));
    return c.json({});
  });
  app.post("/runs/log-batch", async (c) => {
    const p = await Params.of(c);
    const runId = p.runId();
    const metrics = p.objects("metrics").map((o, i) => metricOf(o, `metrics[${i}]`));
    for (const m of metrics) if (m.modelId) await store.getLoggedModel(m.modelId);
    await store.logBatch(runId, {
      metrics: metrics.map(({ modelId: _, ...m }) => m),
      params: p.keyValues("params"),
      tags: p.keyValues("tags"),
    });
    await logModelMetrics(runId, metrics);
    return c.json({});
  });
  app.post("/runs/log-model", async (c) => {
    const p = await Params.of(c);
    const runId = p.runId();
    const text = p.req("model_json");
    let model: Record<string, unknown>;
    try {
      model = JSON.parse(text);
    } catch {
      throw invalid(`Invalid value for parameter 'model_json': not valid JSON`);
    }
    for (const k of ["artifact_path", "flavors", "utc_time_created", "run_id"]) {
      if (!model || typeof model !== "object" || !(k in model)) {
        throw invalid(`Model json is missing mandatory fields: ['${k}']`);
      }
    }
    const run = await store.getRun(runId);
    const history = JSON.parse(run.data.tags["mlflow.log-model.history"] ?? "[]") as unknown[];
    const { flavors, ...rest } = model as {
      flavors: Record<string, Record<string, unknown>>;
      [k: string]: unknown;
    };
    const strippedFlavors = Object.fromEntries(
      Object.entries(flavors ?? {}).map(([k, v]) => {
        const { config: _config, ...cfg } = v ?? {};
        return [k, cfg];
      }),
    );
    history.push({
      run_id: rest.run_id,
      artifact_path: rest.artifact_path,
      utc_time_created: rest.utc_time_created,
      model_uuid: rest.model_uuid,
      flavors: strippedFlavors,
    });
    await store.setTag(runId, "mlflow.log-model.history", JSON.stringify(history));
    return c.json({});
  });

  app.post("/runs/log-inputs", async (c) => {
    const p = await Params.of(c);
    const runId = p.runId();
    const datasets: DatasetInput[] = p.objects("datasets").map((o, i) => {
      const d = o.dataset as Record<string, unknown> | undefined;
      if (!d || typeof d !== "object") throw missing(`datasets[${i}].dataset`);
      const field = (k: string, required: boolean) => {
        const v = d[k];
        if (v === undefined || v === null || v === "") {
          if (required) throw missing(`datasets[${i}].dataset.${k}`);
          return undefined;
        }
        if (typeof v !== "string") {
          throw invalid(`Invalid value for 'datasets[${i}].dataset.${k}': expected a string`);
        }
        return v;
      };
      const tags = new Params({ tags: o.tags ?? [] }, false).tags();
      return {
        tags,
        dataset: {
          name: field("name", true)!,
          digest: field("digest", true)!,
          sourceType: field("source_type", true)!,
          source: field("source", true)!,
          schema: field("schema", false),
          profile: field("profile", false),
        },
      };
    });
    const models = p.objects("models").map((o, i) => {
      if (typeof o.model_id !== "string" || !o.model_id) throw missing(`models[${i}].model_id`);
      return { modelId: o.model_id };
    });
    await store.logInputs(runId, { datasets, models });
    return c.json({});
  });

  app.post("/runs/outputs", async (c) => {
    const p = await Params.of(c);
    const runId = p.runId();
    const models = p.objects("models").map((o, i) => {
      if (typeof o.model_id !== "string" || !o.model_id) throw missing(`models[${i}].model_id`);
      if (o.step === undefined || o.step === null) throw missing(`models[${i}].step`);
      return { modelId: o.model_id, step: exactInt(`models[${i}].step`, o.step) };
    });
    await store.logOutputs(runId, models);
    return c.json({});
  });

  const search = async (p: Params) => {
    const maxResults = p.int("max_results") ?? 1000;
    if (maxResults > 50000) {
      throw invalid(
        `Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most 50000`,
      );
    }
    const opts = {
      experimentIds: p.list("experiment_ids"),
      filterString: p.str("filter") || undefined,
      viewType: enumOf("run_view_type", p.str("run_view_type"), VIEW_TYPES),
      maxResults,
      orderBy: p.list("order_by"),
      pageToken: p.str("page_token") || undefined,
    };
    const page = await store.searchRuns(opts);
    return JSON.stringify({
      ...(page.runs.length ? { runs: page.runs.map(proto.runToJson) } : {}),
      ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
    });
  };
  const searchResponse = (body: string) =>
    new Response(body, { headers: { "Content-Type": "application/json" } });
  app.post("/runs/search", async (c) => searchResponse(await search(await Params.of(c))));
  app.get("/runs/search", async (c) => searchResponse(await search(await Params.of(c))));
  app.get("/metrics/get-history", async (c) => {
    const p = await Params.of(c);
    const runId = p.runId();
    const key = p.req("metric_key");
    const history = await store.getMetricHistory(runId, key);
    const page = paginate(history, p.int("max_results"), p.str("page_token") || undefined, Infinity);
    return c.json({
      ...(page.items.length ? { metrics: page.items.map((m) => proto.metricToJson(m, runId)) } : {}),
      ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
    });
  });

  app.get("/metrics/get-history-bulk-interval", async (c) => {
    const p = await Params.of(c);
    const runIds = p.list("run_ids");
    const key = p.req("metric_key");
    if (runIds.length === 0) throw missing("run_ids");
    if (runIds.length > 100) {
      throw invalid(`GetMetricHistoryBulkInterval request must specify at most 100 run_ids`);
    }
    const start = p.int("start_step"), end = p.int("end_step");
    if ((start === undefined) !== (end === undefined)) {
      throw invalid("If either start step or end step are specified, both must be specified.");
    }
    if (start !== undefined && end !== undefined && start > end) {
      throw invalid("end_step must be greater than start_step.");
    }
    const max = p.int("max_results") ?? 2500;
    if (max < 1 || max > 2500) throw invalid(`max_results must be between 1 and 2500, got ${max}`);
    const histories = await Promise.all(
      runIds.map(async (id) => ({ id, h: await store.getMetricHistory(id, key) })),
    );
    const inRange = (m: Metric) => start === undefined || (m.step >= start && m.step <= end!);
    const steps = sampleSteps(histories.flatMap(({ h }) => h.filter(inRange).map((m) => m.step)), max);
    const metrics = histories.flatMap(({ id, h }) =>
      h.filter((m) => inRange(m) && steps.has(m.step))
        .sort((a, b) => a.step - b.step || a.timestamp - b.timestamp)
        .slice(0, max)
        .map((m) => proto.metricToJson(m, id))
    );
    return c.json(metrics.length ? { metrics } : {});
  });

  return app;
}
