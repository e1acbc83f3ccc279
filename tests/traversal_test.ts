/**
 * The path-traversal corpus over every route that turns a key, name, id or path into a file (issue 15): `../`,
 * encoded and double-encoded dots, backslashes, absolute paths, NUL, symlinks inside artifact directories that
 * lead outside, and artifact locations outside the server's roots. Every answer must be a 4xx that carries
 * neither a canary planted outside the store nor any absolute server path.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp } from "../src/server/mod.ts";
import { pathToFileUri } from "../src/tracking/mod.ts";

const CANARY = `CANARY-${crypto.randomUUID()}`;
/** A canary that reads as a metric file: an old reader returned it whole. */
const CANARY_VALUE = "4242.0123456789";

/** Values aimed at one path segment or relative path: each must be refused wherever it is used. */
function corpus(dir: string): string[] {
  return [
    ...Array.from({ length: 8 }, (_, i) => "../".repeat(i + 1) + "canary.txt"),
    ...Array.from({ length: 8 }, (_, i) => "../".repeat(i + 1) + "canary_metric"),
    "..",
    "../",
    "a/../../canary.txt",
    "./../canary.txt",
    "%2e%2e%2fcanary.txt",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/canary.txt",
    "..%2f..%2f..%2fcanary.txt",
    "%252e%252e%252fcanary.txt",
    "%252e%252e%252f%252e%252e%252f%252e%252e%252f%252e%252e%252fcanary.txt",
    "..\\..\\..\\..\\canary.txt",
    "\\..\\canary.txt",
    join(dir, "canary.txt"),
    join(dir, "canary_metric"),
    "/etc/passwd",
    `file://${join(dir, "canary.txt")}`,
    "loss\0",
    "..\0/canary.txt",
    "%00",
  ];
}

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "st-trav-" });
  const root = join(dir, "mlruns");
  Deno.writeTextFileSync(join(dir, "canary.txt"), `${CANARY}\n`);
  Deno.writeTextFileSync(join(dir, "canary_metric"), `1700000000000 ${CANARY_VALUE} 7\n`);
  const app = createServerApp({ backendStoreUri: root, artifactsDestination: join(dir, "art"), ui: true });
  const req = async (method: string, url: string, body?: unknown) => {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const res = await app.request(url, init);
    return { status: res.status, text: await res.text() };
  };
  const ok = async (method: string, endpoint: string, body?: unknown) => {
    const r = await req(method, `/api/2.0/mlflow/${endpoint}`, body);
    assert.equal(r.status, 200, `${endpoint}: ${r.text}`);
    return JSON.parse(r.text);
  };
  /** Asserts a refusal: a 4xx without the canaries or the temp directory in it. */
  const refused = async (method: string, url: string, body?: unknown) => {
    const r = await req(method, url, body);
    const what = `${method} ${url} ${JSON.stringify(body) ?? ""} → ${r.status} ${r.text.slice(0, 300)}`;
    assert.ok(r.status >= 400 && r.status < 500, what);
    assert.ok(!r.text.includes(CANARY) && !r.text.includes(CANARY_VALUE), `canary leaked: ${what}`);
    assert.ok(!r.text.includes(dir), `server path leaked: ${what}`);
    return r;
  };
  return { dir, root, app, req, ok, refused, done: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("traversal: every key, name, id and path parameter refuses the corpus with a clean 4xx", async () => {
  const t = await setup();
  try {
    const runId = (await t.ok("POST", "runs/create", {})).run.info.run_id;
    await t.ok("POST", "runs/log-metric", { run_id: runId, key: "loss", value: 1, timestamp: 1, step: 0 });
    await t.ok("POST", "registered-models/create", { name: "m" });
    await t.ok("POST", "model-versions/create", { name: "m", source: `runs:/${runId}/model` });
    const modelId = (await t.ok("POST", "logged-models", { experiment_id: "0", name: "lm" })).model.model_id;
    const api = "/api/2.0/mlflow";
    const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
    const enc = encodeURIComponent;

    const routes: [string, (v: string) => string, unknown?][] = [];
    const get = (url: (v: string) => string) => routes.push(["GET", url]);
    const send = (method: string, endpoint: string, body: (v: string) => unknown) =>
      routes.push([method, () => `${api}/${endpoint}`, body]);
    for (const prefix of [api, "/ajax-api/2.0/mlflow"]) {
      get((v) => `${prefix}/metrics/get-history?${q({ run_id: runId, metric_key: v })}`);
      get((v) => `${prefix}/metrics/get-history-bulk-interval?${q({ run_ids: runId, metric_key: v })}`);
      get((v) => `${prefix}/metrics/get-history?${q({ run_id: v, metric_key: "loss" })}`);
      get((v) => `${prefix}/runs/get?${q({ run_id: v })}`);
      get((v) => `${prefix}/get-artifact?${q({ run_id: runId, path: v })}`);
    }
    get((v) => `/get-artifact?${q({ run_id: runId, path: v })}`);
    get((v) => `/get-artifact?${q({ run_id: v, path: "x.txt" })}`);
    get((v) => `/model-versions/get-artifact?${q({ name: "m", version: "1", path: v })}`);
    get((v) => `/model-versions/get-artifact?${q({ name: v, version: "1", path: "MLmodel" })}`);
    get((v) => `${api}/artifacts/list?${q({ run_id: runId, path: v })}`);
    get((v) => `${api}/experiments/get?${q({ experiment_id: v })}`);
    get((v) => `${api}/registered-models/get?${q({ name: v })}`);
    get((v) => `${api}/model-versions/get?${q({ name: "m", version: v })}`);
    get((v) => `${api}/logged-models/${enc(v)}`);
    get((v) => `${api}/logged-models/${modelId}/artifacts/files?${q({ artifact_file_path: v })}`);
    get((v) => `${api}/logged-models/${modelId}/artifacts/directories?${q({ artifact_directory_path: v })}`);
    get((v) => `/api/2.0/mlflow-artifacts/artifacts?${q({ path: v })}`);
    get((v) => `/api/2.0/mlflow-artifacts/artifacts/${enc(v)}`);
    get((v) => `/api/2.0/mlflow-artifacts/artifacts/0/${v}`);
    get((v) => `/api/storyteller/artifact?${q({ run_id: runId, path: v })}`);
    get((v) => `/api/storyteller/artifact?${q({ run_id: v, path: "x.txt" })}`);
    get((v) => `/api/storyteller/export?${q({ run_id: v, format: "gguf" })}`);
    get((v) => `/api/storyteller/metric-series?${q({ run_id: runId, key: v })}`);
    get((v) => `/api/storyteller/metric-series?${q({ run_id: v, key: "loss" })}`);
    get((v) => `/api/storyteller/changes?${q({ experiment_ids: v, since: "-1" })}`);
    routes.push(["PUT", (v) => `/api/2.0/mlflow-artifacts/artifacts/${enc(v)}`]);
    routes.push(["DELETE", (v) => `/api/2.0/mlflow-artifacts/artifacts/${enc(v)}`]);
    routes.push(["DELETE", (v) => `${api}/logged-models/${modelId}/tags/${enc(v)}`]);
    send("POST", "runs/log-metric", (v) => ({ run_id: runId, key: v, value: 1, timestamp: 1 }));
    send("POST", "runs/log-parameter", (v) => ({ run_id: runId, key: v, value: "x" }));
    send("POST", "runs/set-tag", (v) => ({ run_id: runId, key: v, value: "x" }));
    send("POST", "runs/delete-tag", (v) => ({ run_id: runId, key: v }));
    send("POST", "runs/log-batch", (v) => ({ run_id: runId, params: [{ key: v, value: "x" }] }));
    send("POST", "runs/log-batch", (v) => ({ run_id: runId, tags: [{ key: v, value: "x" }] }));
    send("POST", "runs/outputs", (v) => ({ run_id: runId, models: [{ model_id: v, step: 0 }] }));
    send("POST", "runs/create", (v) => ({ experiment_id: v }));
    send("POST", "runs/search", (v) => ({ experiment_ids: [v] }));
    send("POST", "experiments/set-experiment-tag", (v) => ({ experiment_id: "0", key: v, value: "x" }));
    send("POST", "experiments/set-experiment-tag", (v) => ({ experiment_id: v, key: "k", value: "x" }));
    send("POST", "experiments/delete-experiment-tag", (v) => ({ experiment_id: "0", key: v }));
    send("POST", "experiments/delete", (v) => ({ experiment_id: v }));
    send("POST", "registered-models/create", (v) => ({ name: v }));
    send("POST", "registered-models/set-tag", (v) => ({ name: "m", key: v, value: "x" }));
    send("DELETE", "registered-models/delete-tag", (v) => ({ name: "m", key: v }));
    send("POST", "model-versions/set-tag", (v) => ({ name: "m", version: "1", key: v, value: "x" }));
    send("DELETE", "model-versions/delete-tag", (v) => ({ name: "m", version: "1", key: v }));
    send("POST", "logged-models", (v) => ({ experiment_id: v }));
    send("POST", "logged-models/search", (v) => ({ experiment_ids: [v] }));
    send("PATCH", `logged-models/${modelId}/tags`, (v) => ({ tags: [{ key: v, value: "x" }] }));
    send("POST", `logged-models/${modelId}/params`, (v) => ({ params: [{ key: v, value: "x" }] }));

    const before = [...Deno.readDirSync(t.dir)].map((e) => e.name).sort();
    for (const v of corpus(t.dir)) {
      for (const [method, url, body] of routes) {
        await t.refused(method, url(v), typeof body === "function" ? body(v) : undefined);
      }
    }
    // Raw URL tails that only a path route sees (the URL parser would resolve a literal "../").
    for (
      const tail of [
        "..%2fcanary.txt",
        "%2e%2e/%2e%2e/canary.txt",
        "%252e%252e%252fcanary.txt",
        "..%5ccanary.txt",
        "a%00",
      ]
    ) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        await t.refused(method, `/api/2.0/mlflow-artifacts/artifacts/${tail}`);
      }
    }
    // Nothing was written, moved or removed outside the store: the canaries are intact.
    assert.deepEqual([...Deno.readDirSync(t.dir)].map((e) => e.name).sort(), before);
    assert.equal(Deno.readTextFileSync(join(t.dir, "canary.txt")), `${CANARY}\n`);

    // The metric-key hole of the issue: 400 INVALID_PARAMETER_VALUE, the same whether the target exists or not.
    const there = await t.refused(
      "GET",
      `${api}/metrics/get-history?${q({ run_id: runId, metric_key: "../../../../canary_metric" })}`,
    );
    const absent = await t.refused(
      "GET",
      `${api}/metrics/get-history?${q({ run_id: runId, metric_key: "../../../../absent" })}`,
    );
    assert.deepEqual([there.status, JSON.parse(there.text).error_code], [400, "INVALID_PARAMETER_VALUE"]);
    assert.deepEqual([absent.status, JSON.parse(absent.text).error_code], [400, "INVALID_PARAMETER_VALUE"]);
    // The changes poll caches nothing for refused ids, and one selection has one entry however it is spelled.
    assert.equal((await t.req("GET", `/api/storyteller/changes?experiment_ids=0,0,0&since=-1`)).status, 200);
  } finally {
    await t.done();
  }
});

Deno.test("traversal: symlinks inside artifact directories and artifact locations outside the roots are refused", async () => {
  const t = await setup();
  try {
    const outside = join(t.dir, "outside");
    const inStore = pathToFileUri(join(t.root, "local-art"));
    const local =
      (await t.ok("POST", "experiments/create", { name: "local", artifact_location: inStore })).experiment_id;
    const far =
      (await t.ok("POST", "experiments/create", { name: "far", artifact_location: pathToFileUri(outside) }))
        .experiment_id;
    const runIn = (await t.ok("POST", "runs/create", { experiment_id: local })).run.info.run_id;
    const runOut = (await t.ok("POST", "runs/create", { experiment_id: far })).run.info.run_id;
    const runProxy = (await t.ok("POST", "runs/create", {})).run.info.run_id; // mlflow-artifacts:/0/…
    const modelOut = (await t.ok("POST", "logged-models", { experiment_id: far, name: "lm" })).model;

    // Symlinks planted inside allowed artifact directories, pointing at the canary and at its directory.
    const inDir = join(t.root, "local-art", runIn, "artifacts");
    const proxyDir = join(t.dir, "art", "0", runProxy, "artifacts");
    for (const d of [inDir, proxyDir]) {
      Deno.mkdirSync(d, { recursive: true });
      Deno.writeTextFileSync(join(d, "fine.txt"), "fine");
      Deno.symlinkSync(join(t.dir, "canary.txt"), join(d, "link.txt"));
      Deno.symlinkSync(t.dir, join(d, "linkdir"));
    }
    // Files under locations outside the roots (a real MLflow store could point anywhere).
    Deno.mkdirSync(join(outside, runOut, "artifacts"), { recursive: true });
    Deno.writeTextFileSync(join(outside, runOut, "artifacts", "secret.txt"), CANARY);
    const modelDir = new URL(modelOut.info.artifact_uri).pathname;
    Deno.mkdirSync(modelDir, { recursive: true });
    Deno.writeTextFileSync(join(modelDir, "secret.txt"), CANARY);

    const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
    for (const run of [runIn, runProxy]) {
      for (const path of ["link.txt", "linkdir/canary.txt", "linkdir/canary_metric"]) {
        for (const prefix of ["", "/ajax-api/2.0/mlflow"]) {
          await t.refused("GET", `${prefix}/get-artifact?${q({ run_id: run, path })}`);
        }
        await t.refused("GET", `/api/storyteller/artifact?${q({ run_id: run, path })}`);
        await t.refused("GET", `/api/storyteller/artifact?${q({ run_id: run, path, preview: "1" })}`);
      }
      await t.refused("GET", `/api/2.0/mlflow/artifacts/list?${q({ run_id: run, path: "linkdir" })}`);
      // The same directories still serve their own files.
      const fine = await t.req("GET", `/api/storyteller/artifact?${q({ run_id: run, path: "fine.txt" })}`);
      assert.deepEqual([fine.status, fine.text], [200, "fine"]);
    }
    for (const tail of ["link.txt", "linkdir/canary.txt"]) {
      await t.refused("GET", `/api/2.0/mlflow-artifacts/artifacts/0/${runProxy}/artifacts/${tail}`);
      await t.refused("PUT", `/api/2.0/mlflow-artifacts/artifacts/0/${runProxy}/artifacts/${tail}`);
      await t.refused("DELETE", `/api/2.0/mlflow-artifacts/artifacts/0/${runProxy}/artifacts/${tail}`);
    }
    await t.refused(
      "GET",
      `/api/2.0/mlflow-artifacts/artifacts?${q({ path: `0/${runProxy}/artifacts/linkdir` })}`,
    );
    for (
      const url of [
        `/get-artifact?${q({ run_id: runOut, path: "secret.txt" })}`,
        `/api/storyteller/artifact?${q({ run_id: runOut, path: "secret.txt" })}`,
        `/api/2.0/mlflow/artifacts/list?${q({ run_id: runOut })}`,
        `/api/2.0/mlflow/logged-models/${modelOut.info.model_id}/artifacts/files?${
          q({ artifact_file_path: "secret.txt" })
        }`,
        `/api/2.0/mlflow/logged-models/${modelOut.info.model_id}/artifacts/directories`,
      ]
    ) {
      const r = await t.refused("GET", url);
      assert.equal(r.status, 403, url);
    }
    assert.equal(
      Deno.readTextFileSync(join(t.dir, "canary.txt")),
      `${CANARY}\n`,
      "PUT/DELETE never followed a link",
    );
  } finally {
    await t.done();
  }
});
