import assert from "node:assert/strict";
import {
  formatExperimentView,
  formatHash,
  formatList,
  listParam,
  parseHash,
  readChart,
  readExperimentView,
} from "./url_state.ts";

Deno.test("url state: a filter with quotes, spaces, & and # round-trips", () => {
  const filter = "metrics.`val/loss` < 2.5 AND params.name = 'a&b #1' AND tags.\"x y\" LIKE '%z%'";
  const h = formatHash(["experiments", "1,2"], { q: filter, empty: "", none: undefined });
  assert.ok(!h.includes(" "));
  assert.equal(h.split("#").length, 2, "a # inside a value must be escaped");
  const loc = parseHash(h);
  assert.deepEqual(loc.path, ["experiments", "1,2"]);
  assert.deepEqual(loc.params, { q: filter });
});

Deno.test("url state: experiment view round-trips and defaults stay out of the URL", () => {
  const v = readExperimentView(parseHash("#/experiments/3"));
  assert.deepEqual(v.experimentIds, ["3"]);
  assert.deepEqual(v.sort, { column: "attr:start", descending: true });
  assert.equal(formatExperimentView(v), "#/experiments/3");
  const full = {
    ...v,
    experimentIds: ["3", "4"],
    filter: "metrics.loss < 1",
    sort: { column: "metric:val/loss", descending: false },
    columns: ["param:lr", "metric:val/loss", "tag:a,b"],
    selected: ["abc", "def"],
    tab: "charts" as const,
    showDeleted: true,
    chart: { ...v.chart, metrics: ["loss"], xAxis: "relative" as const, logScale: true, smoothing: 0.6 },
  };
  const back = readExperimentView(parseHash(formatExperimentView(full)));
  assert.deepEqual(back, full);
});

Deno.test("url state: malformed parameters fall back to defaults", () => {
  const c = readChart({ x: "sideways", smooth: "lots", log: "yes" });
  assert.equal(c.xAxis, "step");
  assert.equal(c.smoothing, 0);
  assert.equal(c.logScale, false);
  assert.equal(readChart({ smooth: "5" }).smoothing, 0.99);
  assert.deepEqual(parseHash("#/runs/%E0%A4%A").path, ["runs", "%E0%A4%A"]);
  assert.deepEqual(parseHash("").path, []);
});

Deno.test("url state: lists keep commas inside items", () => {
  assert.deepEqual(listParam(formatList(["a,b", "c"])), ["a,b", "c"]);
  assert.equal(formatList([]), undefined);
  assert.deepEqual(listParam(" a, ,b "), ["a", "b"]);
});
