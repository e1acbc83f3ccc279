import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore } from "./file_store.ts";
import { RestClient } from "./rest_client.ts";
import { AsyncLogger } from "./async_logger.ts";
import { TrackingError } from "./errors.ts";
import * as P from "./proto.ts";

/** A small MLflow server double over a FileStore, with failure injection and request recording. */
function startDouble(opts: { failFirst?: number; failStatus?: number } = {}) {
  const dir = Deno.makeTempDirSync({ prefix: "st-rest-" });
  const store = new FileStore(join(dir, "mlruns"));
  const artifacts = join(dir, "mlartifacts");
  const seen: { path: string; auth: string | null; body: P.Json }[] = [];
  let failures = opts.failFirst ?? 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (failures > 0) {
      failures--;
      return new Response("busy", { status: opts.failStatus ?? 503 });
    }
    const art = "/api/2.0/mlflow-artifacts/artifacts";
    if (path.startsWith(art)) {
      const rel = decodeURIComponent(path.slice(art.length + 1));
      seen.push({
        path: `${req.method} artifacts/${rel}`,
        auth: req.headers.get("authorization"),
        body: null,
      });
      if (req.method === "PUT") {
        Deno.mkdirSync(join(artifacts, rel, ".."), { recursive: true });
        Deno.writeFileSync(join(artifacts, rel), new Uint8Array(await req.arrayBuffer()));
        return Response.json({});
      }
      if (rel === "") {
        const p = url.searchParams.get("path") ?? "";
        try {
          const files = [...Deno.readDirSync(join(artifacts, p))].map((e) => ({
            path: e.name,
            is_dir: e.isDirectory,
          }));
          return Response.json(files.length ? { files } : {});
        } catch {
          return Response.json({});
        }
      }
      return new Response(Deno.readFileSync(join(artifacts, rel)));
    }
    const ep = path.replace("/api/2.0/mlflow/", "");
    const body: P.Json = req.method === "GET" ? Object.fromEntries(url.searchParams) : await req.json();
    seen.push({ path: ep, auth: req.headers.get("authorization"), body });
    try {
      switch (ep) {
        case "experiments/get-by-name": {
          const e = await store.getExperimentByName(body.experiment_name);
          if (!e) {
            throw new TrackingError(
              "RESOURCE_DOES_NOT_EXIST",
              `Could not find experiment with name '${body.experiment_name}'`,
            );
          }
          return Response.json({ experiment: P.experimentToJson(e) });
        }
        case "experiments/create":
          return Response.json({
            experiment_id: await store.createExperiment(body.name, {
              artifactLocation: `mlflow-artifacts:/${body.name}`,
            }),
          });
        case "runs/create": {
          const run = await store.createRun({
            experimentId: body.experiment_id,
            runName: body.run_name,
            startTime: body.start_time,
          });
          return Response.json({ run: P.runToJson(run) });
        }
        case "runs/get":
          return Response.json({ run: P.runToJson(await store.getRun(body.run_id)) });
        case "runs/update":
          return Response.json({
            run_info: P.runInfoToJson(
              await store.updateRun(body.run_id, { status: body.status, endTime: body.end_time }),
            ),
          });
        case "runs/log-batch":
          await store.logBatch(body.run_id, {
            metrics: (body.metrics ?? []).map(P.metricFromJson),
            params: body.params,
            tags: body.tags,
          });
          return Response.json({});
        case "runs/log-metric":
          await store.logMetric(body.run_id, body.key, P.doubleFromJson(body.value), {
            timestamp: body.timestamp,
            step: body.step,
          });
          return Response.json({});
        case "runs/search": {
          const page = await store.searchRuns({
            experimentIds: body.experiment_ids,
            filterString: body.filter,
            orderBy: body.order_by,
            maxResults: body.max_results,
          });
          return Response.json({ runs: page.runs.map(P.runToJson) });
        }
        default:
          return new Response("<h1>Not Found</h1>", { status: 404 });
      }
    } catch (err) {
      const e = err as TrackingError;
      return Response.json({ error_code: e.code, message: e.message }, {
        status: e.code === "RESOURCE_DOES_NOT_EXIST" ? 404 : 400,
      });
    }
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  return { url, store, seen, artifacts, close: () => server.shutdown() };
}

Deno.test("REST client: experiment, run, batch, search, terminate and bearer auth", async () => {
  const d = startDouble();
  try {
    const c = new RestClient(d.url, { token: "t0k", backoffMs: 1 });
    assert.equal(await c.getExperimentByName("story"), null);
    const expId = await c.createExperiment("story");
    const run = await c.createRun({ experimentId: expId, runName: "r" });
    assert.equal(run.info.artifactUri, `mlflow-artifacts:/story/${run.info.runId}/artifacts`);
    const metrics = Array.from(
      { length: 2500 },
      (_, i) => ({ key: "val/loss", value: i === 0 ? NaN : 1 / i, timestamp: i, step: i }),
    );
    const params = Array.from({ length: 150 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    await c.logBatch(run.info.runId, { metrics, params });
    const batches = d.seen.filter((s) => s.path === "runs/log-batch").map((
      s,
    ) => [s.body.metrics.length, s.body.params.length]);
    assert.deepEqual(batches, [[900, 100], [950, 50], [650, 0]]);
    assert.equal(d.seen.filter((s) => s.path === "runs/log-batch")[0].body.metrics[0].value, "NaN");
    await c.setTerminated(run.info.runId, "FINISHED", 5);
    const page = await c.searchRuns({ experimentNames: ["story"], filterString: "metrics.val/loss < 0.001" });
    assert.equal(page.runs.length, 1);
    assert.equal(page.runs[0].info.status, "FINISHED");
    assert.equal(page.runs[0].data.params.p149, "149");
    assert.ok(d.seen.every((s) => s.auth === "Bearer t0k"));
    await assert.rejects(
      () => c.getRun("ffffffffffffffffffffffffffffffff"),
      (e: TrackingError) => e.code === "RESOURCE_DOES_NOT_EXIST",
    );
    await assert.rejects(
      () => c.searchRuns({ experimentIds: [expId], filterString: "metrics.a-b < 1" }),
      /Expected 'Identifier'/,
    );
  } finally {
    await d.close();
  }
});

Deno.test("REST client: retries 503 and 429 with backoff, then succeeds; basic auth from env", async () => {
  for (const status of [503, 429]) {
    const d = startDouble({ failFirst: 3, failStatus: status });
    Deno.env.set("MLFLOW_TRACKING_USERNAME", "u");
    Deno.env.set("MLFLOW_TRACKING_PASSWORD", "p");
    try {
      const c = new RestClient(d.url, { backoffMs: 1 });
      assert.equal(await c.getExperimentByName("none"), null);
      assert.equal(d.seen[0].auth, `Basic ${btoa("u:p")}`);
    } finally {
      Deno.env.delete("MLFLOW_TRACKING_USERNAME");
      Deno.env.delete("MLFLOW_TRACKING_PASSWORD");
      await d.close();
    }
  }
  const d = startDouble({ failFirst: 100 });
  try {
    await assert.rejects(
      () => new RestClient(d.url, { backoffMs: 1, maxRetries: 2 }).getExperimentByName("x"),
      (e: TrackingError) => e.code === "TEMPORARILY_UNAVAILABLE",
    );
  } finally {
    await d.close();
  }
  await assert.rejects(
    () => new RestClient("http://127.0.0.1:9", { backoffMs: 1, maxRetries: 1 }).getExperimentByName("x"),
    /Cannot reach tracking server/,
  );
});

Deno.test("REST client: artifacts go through the mlflow-artifacts proxy and come back", async () => {
  const d = startDouble();
  try {
    const c = new RestClient(d.url, { backoffMs: 1 });
    const run = await c.createRun({ experimentId: await c.createExperiment("arts") });
    const src = Deno.makeTempDirSync();
    Deno.mkdirSync(join(src, "model", "sub"), { recursive: true });
    Deno.writeTextFileSync(join(src, "model", "MLmodel"), "flavors: {}\n");
    Deno.writeTextFileSync(join(src, "model", "sub", "w.bin"), "weights");
    await c.logArtifacts(run.info.runId, src);
    assert.equal(
      Deno.readTextFileSync(join(d.artifacts, "arts", run.info.runId, "artifacts", "model", "sub", "w.bin")),
      "weights",
    );
    const local = await c.downloadArtifacts(`runs:/${run.info.runId}/model`, Deno.makeTempDirSync());
    assert.equal(Deno.readTextFileSync(join(local, "MLmodel")), "flavors: {}\n");
    assert.equal(Deno.readTextFileSync(join(local, "sub", "w.bin")), "weights");
  } finally {
    await d.close();
  }
});

Deno.test("AsyncLogger over REST: 3000 points arrive in order, an invalid key warns once", async () => {
  const d = startDouble();
  try {
    const c = new RestClient(d.url, { backoffMs: 1, maxRetries: 0 });
    const run = await c.createRun({ experimentId: await c.createExperiment("async") });
    const warnings: string[] = [];
    const logger = new AsyncLogger(c, run.info.runId, { flushIntervalMs: 2, warn: (m) => warnings.push(m) });
    for (let i = 0; i < 3000; i++) logger.logMetric("loss", i, i);
    logger.logMetric("bad#key", 1);
    assert.ok(await logger.close(5000));
    const hist = await d.store.getMetricHistory(run.info.runId, "loss");
    assert.equal(hist.length, 3000);
    assert.deepEqual(warnings.filter((w) => w.includes("bad#key")).length, 1);
  } finally {
    await d.close();
  }
});
