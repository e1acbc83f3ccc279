/**
 * Seeded fuzzing of the tracking server's REST bodies and search filters (issue 15): mutated versions of valid
 * requests — wrong types, huge and non-finite numbers, deep nesting, long and control-character strings, missing
 * and extra fields — must each get a 2xx or a 4xx in MLflow's error shape, never a 500. A failure prints the seed
 * and the case, so it replays: `FUZZ_SEED=<n> deno test -A tests/fuzz_rest_test.ts`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp } from "../src/server/mod.ts";
import { makeRng } from "../src/data/mod.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261208);
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 1500);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function mutator(seed: number) {
  const rnd = makeRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const weird: Json[] = [
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    2 ** 53,
    2 ** 63,
    -(2 ** 63),
    9007199254740993,
    "",
    " ",
    "x".repeat(70_000),
    "../../etc/passwd",
    "\u0000",
    "NaN",
    "Infinity",
    "1e999",
    "%2e%2e%2f",
    "\ud800",
    "a\nb",
    "'; DROP TABLE runs; --",
    [],
    [[[[[[]]]]]],
    {},
    { "": "" },
    { key: null },
    [1, "2", null],
  ];
  const mutate = (v: Json, depth = 0): Json => {
    const r = rnd();
    if (r < 0.15) return pick(weird);
    if (Array.isArray(v)) {
      if (r < 0.3) return [...v, pick(weird)];
      if (r < 0.4) return v.slice(1);
      return v.map((x) => (rnd() < 0.3 ? mutate(x, depth + 1) : x));
    }
    if (v && typeof v === "object") {
      const out: { [k: string]: Json } = { ...v };
      const keys = Object.keys(out);
      if (r < 0.3 && keys.length) delete out[pick(keys)];
      else if (r < 0.4) {
        out[pick(["extra", "run_id", "key", "value", "step", "metrics", "\u0000"])] = pick(weird);
      }
      for (const k of Object.keys(out)) if (rnd() < 0.35) out[k] = mutate(out[k], depth + 1);
      return out;
    }
    if (typeof v === "number") return pick([v * 1e300, -v, v + 0.5, NaN as unknown as Json, String(v)]);
    if (typeof v === "string") return pick([v + pick(weird as string[]), v.slice(1), v.toUpperCase(), ""]);
    return pick(weird);
  };
  return { rnd, pick, mutate };
}

Deno.test(`fuzz: ${CASES} mutated REST bodies and filters never get a 500 (seed ${SEED})`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-fuzz-" });
  try {
    const app = createServerApp({ backendStoreUri: join(dir, "mlruns"), artifactsDestination: null });
    const call = async (method: string, path: string, body?: string) => {
      const res = await app.request(`/api/2.0/mlflow/${path}`, {
        method,
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body,
      });
      return { status: res.status, text: await res.text() };
    };
    const created = JSON.parse((await call("POST", "runs/create", JSON.stringify({}))).text);
    const runId: string = created.run.info.run_id;
    await call("POST", "registered-models/create", JSON.stringify({ name: "m" }));
    const valid: [string, Json][] = [
      ["runs/create", { experiment_id: "0", run_name: "r", start_time: 1, tags: [{ key: "a", value: "b" }] }],
      ["runs/log-metric", { run_id: runId, key: "loss", value: 1.5, timestamp: 1, step: 2 }],
      ["runs/log-parameter", { run_id: runId, key: "lr", value: "0.1" }],
      ["runs/set-tag", { run_id: runId, key: "t", value: "v" }],
      ["runs/delete-tag", { run_id: runId, key: "t" }],
      ["runs/log-batch", {
        run_id: runId,
        metrics: [{ key: "m", value: 1, timestamp: 1, step: 0 }],
        params: [{ key: "p", value: "1" }],
        tags: [{ key: "k", value: "v" }],
      }],
      ["runs/update", { run_id: runId, status: "RUNNING", end_time: 5, run_name: "x" }],
      ["runs/search", {
        experiment_ids: ["0"],
        filter: "metrics.loss < 2",
        max_results: 10,
        order_by: ["start_time DESC"],
      }],
      ["runs/log-inputs", {
        run_id: runId,
        datasets: [{ dataset: { name: "d", digest: "1", source_type: "local", source: "{}" } }],
      }],
      ["experiments/create", { name: "e", artifact_location: "", tags: [] }],
      ["experiments/search", { max_results: 5, filter: "name LIKE 'e%'", order_by: ["name"] }],
      ["experiments/set-experiment-tag", { experiment_id: "0", key: "k", value: "v" }],
      ["registered-models/create", { name: "n", tags: [{ key: "k", value: "v" }], description: "d" }],
      ["registered-models/search", { filter: "name = 'm'", max_results: 5 }],
      ["registered-models/set-tag", { name: "m", key: "k", value: "v" }],
      ["registered-models/alias", { name: "m", alias: "champ", version: "1" }],
      ["model-versions/create", { name: "m", source: `runs:/${runId}/model`, run_id: runId }],
      ["model-versions/search", { filter: "name = 'm'", max_results: 5 }],
      ["logged-models/search", { experiment_ids: ["0"], filter: "", max_results: 5 }],
    ];
    const filterParts = [
      "metrics.loss",
      "params.lr",
      "tags.`a b`",
      "attributes.status",
      "run_name",
      "dataset.name",
      "<",
      "<=",
      "=",
      "!=",
      "LIKE",
      "ILIKE",
      "IN",
      "NOT IN",
      "AND",
      "OR",
      "(",
      ")",
      "'x'",
      '"y"',
      "1e5",
      "-3",
      "NULL",
      "IS",
      "'%'",
      "('a', 'b')",
      "`",
      "'",
      "\\",
      "metrics.`",
      "tags.mlflow.runName",
    ];
    const { rnd, pick, mutate } = mutator(SEED);
    const failures: string[] = [];
    for (let i = 0; i < CASES && failures.length < 5; i++) {
      const [path, body] = pick(valid);
      let text: string;
      if (rnd() < 0.2) {
        // A filter made of random tokens, or a body that is not JSON at all.
        text = rnd() < 0.5
          ? JSON.stringify({
            experiment_ids: ["0"],
            filter: Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => pick(filterParts)).join(" "),
          })
          : pick(["{", "[]", "null", '"x"', '{"run_id":', "\u0000", '{"a":1}'.repeat(3)]);
        const target = text.startsWith('{"experiment_ids"') ? "runs/search" : path;
        const res = await call("POST", target, text);
        if (res.status >= 500) {
          failures.push(
            `#${i} POST ${target} ${text.slice(0, 200)} → ${res.status} ${res.text.slice(0, 200)}`,
          );
        }
        continue;
      }
      text = JSON.stringify(mutate(body));
      const res = await call("POST", path, text);
      if (res.status >= 500) {
        failures.push(`#${i} POST ${path} ${text.slice(0, 300)} → ${res.status} ${res.text.slice(0, 300)}`);
      } else if (res.status >= 400) {
        assert.ok(/"error_code"/.test(res.text), `#${i} ${path}: ${res.text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(failures, [], `seed ${SEED}: server errors\n${failures.join("\n")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
