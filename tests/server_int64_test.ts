/**
 * int64 fields over REST (steps, timestamps, times, step windows): exact within ±(2^53 − 1), refused with 400
 * INVALID_PARAMETER_VALUE beyond (JSON numbers are doubles), never stored or answered rounded; and metric files
 * that a crashed writer left torn are appended to without inventing a point.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp } from "../src/server/mod.ts";
import { apiClient } from "./_api_client.ts";
import { FileStore } from "../src/tracking/mod.ts";

const MAX = Number.MAX_SAFE_INTEGER;

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "st-int64-" });
  const root = join(dir, "mlruns");
  const app = createServerApp({ backendStoreUri: root, artifactsDestination: null });
  const api = apiClient(app);
  const runId: string = (await api.ok("POST", "runs/create", {})).run.info.run_id;
  /** A POST whose JSON body is written by hand (int64 literals that JSON.stringify cannot produce). */
  const rawPost = async (endpoint: string, body: string) => {
    const res = await app.request(`/api/2.0/mlflow/${endpoint}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    return { status: res.status, text: await res.text() };
  };
  const history = async (key: string) =>
    await app.request(`/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=${key}`);
  const metricFile = (key: string) => join(new FileStore(root).locateRun(runId).runDir, "metrics", key);
  return {
    dir,
    app,
    ...api,
    runId,
    rawPost,
    history,
    metricFile,
    done: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("int64: steps and timestamps up to 2^53 - 1 round-trip exactly; larger ones are refused, not rounded", async () => {
  const t = await setup();
  try {
    await t.ok("POST", "runs/log-metric", {
      run_id: t.runId,
      key: "loss",
      value: 1,
      timestamp: MAX,
      step: -MAX,
    });
    await t.ok("POST", "runs/log-metric", {
      run_id: t.runId,
      key: "loss",
      value: 2,
      timestamp: 5,
      step: String(MAX),
    });
    const text = await (await t.history("loss")).text();
    assert.match(text, /"timestamp":9007199254740991,"step":-9007199254740991/);
    assert.match(text, /"step":9007199254740991/);

    const refused = [
      `{"run_id":"${t.runId}","key":"loss","value":1,"timestamp":1,"step":9223372036854775807}`,
      `{"run_id":"${t.runId}","key":"loss","value":1,"timestamp":1,"step":9007199254740993}`,
      `{"run_id":"${t.runId}","key":"loss","value":1,"timestamp":1,"step":"9223372036854775807"}`,
      `{"run_id":"${t.runId}","key":"loss","value":1,"timestamp":9007199254740992,"step":1}`,
      `{"run_id":"${t.runId}","key":"loss","value":1,"timestamp":1,"step":1.5}`,
    ];
    for (const body of refused) {
      const r = await t.rawPost("runs/log-metric", body);
      assert.equal(r.status, 400, body);
      assert.equal(JSON.parse(r.text).error_code, "INVALID_PARAMETER_VALUE", body);
    }
    const batch = `{"run_id":"${t.runId}","metrics":[{"key":"b","value":1,"timestamp":1,"step":1},` +
      `{"key":"b","value":1,"timestamp":1,"step":9223372036854775807}]}`;
    assert.equal((await t.rawPost("runs/log-batch", batch)).status, 400);
    assert.equal(await (await t.history("b")).text(), "{}", "a refused batch writes no point");
    assert.equal((await t.rawPost("runs/create", `{"start_time":9223372036854775807}`)).status, 400);
    const msg = await t.err(400, "INVALID_PARAMETER_VALUE", "GET", "metrics/get-history-bulk-interval", {
      run_ids: t.runId,
      metric_key: "loss",
      start_step: 0,
      end_step: "9223372036854775807",
    });
    assert.match(msg, /end_step.*2\^53 - 1/);
    assert.ok(!text.includes("9223372036854776000"));
  } finally {
    await t.done();
  }
});

Deno.test("int64: a metric file holding a step beyond 2^53 (written by another tool) is an error, not a rounded point", async () => {
  const t = await setup();
  try {
    await t.ok("POST", "runs/log-metric", { run_id: t.runId, key: "big", value: 1, timestamp: 1, step: 1 });
    Deno.writeTextFileSync(t.metricFile("big"), "1 1 1\n2 2 9223372036854775807\n");
    const res = await t.history("big");
    const body = await res.json();
    assert.equal(res.status, 500);
    assert.equal(body.error_code, "INTERNAL_ERROR");
    assert.match(body.message, /Cannot read metric 'big' from <path>: line 2 is malformed/);
    assert.ok(!body.message.includes(t.dir) && !body.message.includes("9223372036854775807"), body.message);
  } finally {
    await t.done();
  }
});

Deno.test("a torn metric line (a writer that died mid-append) is not a point, and the next append does not glue onto it", async () => {
  const t = await setup();
  try {
    await t.ok("POST", "runs/log-metric", {
      run_id: t.runId,
      key: "loss",
      value: 0.5,
      timestamp: 1700000000000,
      step: 190,
    });
    Deno.writeTextFileSync(t.metricFile("loss"), "1000", { append: true }); // the crash: "…190\n1000"
    const torn = await (await t.history("loss")).json();
    assert.deepEqual(torn.metrics.map((m: { step: number }) => m.step), [190]);
    await t.ok("POST", "runs/log-metric", {
      run_id: t.runId,
      key: "loss",
      value: 0.25,
      timestamp: 1700000000001,
      step: 192,
    });
    const after = await (await t.history("loss")).json();
    assert.deepEqual(
      after.metrics.map((m: { timestamp: number; step: number }) => [m.timestamp, m.step]),
      [[1700000000000, 190], [1700000000001, 192]],
    );
    const run = await t.ok("GET", "runs/get", { run_id: t.runId });
    assert.deepEqual(run.run.data.metrics, [{
      key: "loss",
      value: 0.25,
      timestamp: 1700000000001,
      step: 192,
      run_id: run.run.info.run_id,
    }]);
  } finally {
    await t.done();
  }
});
