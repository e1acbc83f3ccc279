import assert from "node:assert/strict";
import { formatExperimentView, parseHash, readExperimentView } from "./url_state.ts";
import { ALL, formatSelection, readSelection, URL_MAX } from "./selection.ts";
import { differingParams, filterRuns, plainWords, type Run } from "./runs.ts";
import { tickLabels } from "./chart_axes.ts";
import { pool } from "./api.ts";
import { recallView, rememberView } from "./view_memory.ts";

const run = (id: string, params: Record<string, string>): Run => ({
  info: {
    runId: id,
    experimentId: "1",
    runName: id,
    userId: "",
    status: "FINISHED",
    startTime: 1,
    endTime: 2,
    artifactUri: "",
    lifecycleStage: "active",
  },
  data: { metrics: {}, params, tags: {} },
});

Deno.test("selection: short in the URL, long by reference, all-matching as *", () => {
  localStorage.clear();
  assert.equal(formatSelection(["a", "b"]), "a,b");
  const many = Array.from({ length: 10_000 }, (_, i) => `run${i}`);
  const ref = formatSelection(many)!;
  assert.ok(ref.startsWith("@") && ref.length < 20, ref);
  assert.deepEqual(readSelection(ref), many);
  assert.deepEqual(readSelection("@gone"), []);
  const v = readExperimentView(parseHash("#/experiments/1?sel=*"));
  assert.equal(v.selectAll, true);
  assert.ok(formatExperimentView(v).endsWith(`sel=${encodeURIComponent(ALL)}`));
  const big = formatExperimentView({ ...v, selectAll: false, selected: many.slice(0, URL_MAX + 1) });
  assert.ok(big.length < 100, big);
  localStorage.clear();
});

Deno.test("filter errors in plain words, not Python lists", () => {
  const p = filterRuns([], "metrix.loss < 1").problem!;
  assert.equal(
    p.message,
    "Invalid entity type 'metrix'. Use one of: metric, parameter, tag, attribute or dataset",
  );
  assert.ok(!plainWords("Valid values are ['a', 'b']").includes("["));
});

Deno.test("differingParams: constant params are left out, a missing value differs", () => {
  const runs = [run("a", { lr: "1", layers: "4", opt: "x" }), run("b", { lr: "2", layers: "4" })];
  assert.deepEqual(differingParams(runs), ["lr", "opt"]);
  assert.deepEqual(differingParams([run("a", { x: "1" })]), []);
});

Deno.test("tickLabels: log splits without a label are blank; neighbours never repeat", () => {
  assert.deepEqual(tickLabels(null, "y", [10, null, null, 7, null, 5]), ["10", "", "", "7", "", "5"]);
  const lr = tickLabels(null, "x", [0.001, 0.0015, 0.002, 0.0025]);
  assert.equal(new Set(lr).size, 4, lr.join(" "));
  assert.deepEqual(tickLabels(null, "x", [0.1 + 0.2, 0.4]), ["0.3", "0.4"]);
});

Deno.test("pool: never more than the limit in flight, results in order", async () => {
  let inFlight = 0, most = 0;
  const out = await pool(Array.from({ length: 50 }, (_, i) => i), 4, async (i) => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 1));
    inFlight--;
    return i * 2;
  });
  assert.equal(most, 4);
  assert.deepEqual(out, Array.from({ length: 50 }, (_, i) => i * 2));
});

Deno.test("view memory: the last view per experiment, without the selection", () => {
  localStorage.clear();
  rememberView("7", "q=metrics.loss+%3C+1&sel=a,b&cols=param%3Alr");
  assert.equal(recallView("7"), "q=metrics.loss+%3C+1&cols=param%3Alr");
  rememberView("7", "");
  assert.equal(recallView("7"), "");
  localStorage.clear();
});
