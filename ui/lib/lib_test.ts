import assert from "node:assert/strict";
import { actions } from "./action.ts";
import { compareRows } from "./compare.ts";
import { formatBytes, formatDuration, formatNumber } from "./format.ts";
import { isSafeUrl, renderMarkdown } from "./markdown.ts";
import {
  availableColumns,
  columnValue,
  filterRuns,
  mergeRuns,
  metricVersion,
  type Run,
  runFromJson,
  sortRuns,
} from "./runs.ts";
import { smoothEma } from "./smooth.ts";
import { csvField, toCsv } from "./table_export.ts";
import { rowWindow, scrollToRow } from "./virtual.ts";

function run(
  id: string,
  start: number,
  params: Record<string, string>,
  metrics: Record<string, number>,
): Run {
  return runFromJson({
    info: { run_id: id, experiment_id: "0", run_name: `run-${id}`, status: "FINISHED", start_time: start },
    data: {
      params: Object.entries(params).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 1, timestamp: 1 })),
      tags: [{ key: "mlflow.note.content", value: "hi" }, { key: "team", value: "a" }],
    },
  });
}

const runs = [
  run("a", 3, { lr: "0.01", opt: "adam" }, { loss: 2.5, "val/loss": 3 }),
  run("b", 2, { lr: "0.1", opt: "sgd" }, { loss: 1.5 }),
  run("c", 1, { lr: "1e-3", opt: "adam" }, { loss: NaN }),
  run("d", 4, { opt: "adamw" }, {}),
];

Deno.test("filterRuns: same grammar as runs search, errors keep their column", () => {
  const ids = (f: string) => filterRuns(runs, f).runs.map((r) => r.info.runId);
  assert.deepEqual(ids("metrics.loss < 2"), ["b"]);
  assert.deepEqual(ids("metrics.`val/loss` = 3"), ["a"]);
  assert.deepEqual(ids("params.opt LIKE 'adam%' AND metrics.loss > 0"), ["a"]);
  assert.deepEqual(ids(""), ["a", "b", "c", "d"]);
  const bad = filterRuns(runs, "metrics.loss < 2 AND params.opt ~ 'x'");
  assert.equal(bad.runs.length, 4, "a bad filter hides nothing");
  assert.equal(bad.problem?.column, 33); // the `~`
  assert.ok(!bad.problem?.message.includes("\n"));
  const typo = filterRuns(runs, "metrix.loss < 2");
  assert.equal(typo.problem?.column, 1);
  assert.match(typo.problem!.message, /Invalid entity type 'metrix'/);
});

Deno.test("filterRuns: dataset.* terms match the dataset inputs a search returned", () => {
  const withInputs = (id: string, inputs?: unknown) =>
    runFromJson({ info: { run_id: id, experiment_id: "0", start_time: 1 }, data: {}, inputs });
  const dataset = (name: string, digest: string, context: string) => ({
    dataset: { name, digest, source_type: "local", source: "{}" },
    tags: [{ key: "mlflow.data.context", value: context }],
  });
  // runs/search JSON as the server sends it: inputs.dataset_inputs, or an empty `inputs` without any.
  const searched = [
    withInputs("t", {
      dataset_inputs: [dataset("stories", "90307e28", "training"), dataset("val", "1a2b", "validation")],
    }),
    withInputs("o", { dataset_inputs: [dataset("other", "3c4d", "training")] }),
    withInputs("n", {}),
    withInputs("old"), // a server that sends no inputs
  ];
  const ids = (f: string) => {
    const out = filterRuns(searched, f);
    assert.equal(out.problem, undefined, f);
    return out.runs.map((r) => r.info.runId);
  };
  assert.deepEqual(ids("dataset.name = 'stories'"), ["t"]);
  assert.deepEqual(ids("dataset.context = 'training'"), ["t", "o"]);
  assert.deepEqual(ids("dataset.name != 'stories'"), ["t", "o"]);
  assert.deepEqual(ids("datasets.digest IN ('3c4d', '90307e28')"), ["t", "o"]);
  assert.deepEqual(searched[0].inputs?.datasetInputs[0].tags, { "mlflow.data.context": "training" });
  const bad = filterRuns(searched, "dataset.size = '1'");
  assert.match(bad.problem!.message, /Invalid dataset key 'size'/);
  assert.equal(bad.problem!.column, 1);
});

Deno.test("sortRuns: numeric params numerically, missing values last both ways", () => {
  const by = (c: string, d: boolean) => sortRuns(runs, c, d).map((r) => r.info.runId).join("");
  assert.equal(by("param:lr", false), "cabd");
  assert.equal(by("param:lr", true), "bacd");
  assert.equal(by("metric:loss", false), "bacd");
  assert.equal(by("param:opt", false), "acdb");
  assert.equal(by("attr:start", true), "dabc");
  assert.equal(columnValue(runs[0], "attr:name"), "run-a");
});

Deno.test("metricVersion changes with the charted metrics only", () => {
  const before = metricVersion(runs, ["loss"]);
  assert.equal(before, metricVersion(runs.map((r) => ({ ...r })), ["loss"]), "same points, same version");
  const aMoreVal = run("a", 3, { lr: "0.01", opt: "adam" }, { loss: 2.5, "val/loss": 2 });
  assert.equal(metricVersion([aMoreVal, ...runs.slice(1)], ["loss"]), before, "another metric logged");
  assert.notEqual(
    metricVersion([aMoreVal, ...runs.slice(1)], ["val/loss"]),
    metricVersion(runs, ["val/loss"]),
  );
  const aMoreLoss = run("a", 3, { lr: "0.01", opt: "adam" }, { loss: 2.4 });
  assert.notEqual(
    metricVersion([aMoreLoss, ...runs.slice(1)], ["loss"]),
    before,
    "the charted metric logged",
  );
  assert.notEqual(metricVersion(runs.slice(1), ["loss"]), before, "a run left the chart");
});

Deno.test("availableColumns and mergeRuns", () => {
  const cols = availableColumns(runs);
  assert.deepEqual(cols.params, ["lr", "opt"]);
  assert.deepEqual(cols.metrics, ["loss", "val/loss"]);
  assert.deepEqual(cols.tags, ["team"]);
  const b2 = run("b", 2, { lr: "0.2" }, {});
  const e = run("e", 9, {}, {});
  const merged = mergeRuns(runs, [b2, e], ["c"]);
  assert.deepEqual(merged.map((r) => r.info.runId), ["e", "a", "b", "d"]);
  assert.equal(merged[2], b2);
  assert.equal(mergeRuns(runs, []), runs);
});

Deno.test("compareRows flags differences", () => {
  const rows = compareRows([runs[0], runs[2]], "params");
  assert.deepEqual(rows.map((r) => [r.key, r.differs]), [["lr", true], ["opt", false]]);
  const m = compareRows([runs[0], runs[3]], "metrics");
  assert.deepEqual(m.find((r) => r.key === "loss")?.values, [2.5, undefined]);
  assert.deepEqual(compareRows(runs, "tags").map((r) => r.key), ["team"]);
  const fam = [run("a", 1, {}, { "moe/layer_0_balance": 1, "val/loss": 2, "train/lr": 3, "train/loss": 4 })];
  assert.deepEqual(
    compareRows(fam, "metrics").map((r) => r.key),
    ["train/loss", "train/lr", "val/loss", "moe/layer_0_balance"],
    "metrics in family order",
  );
});

Deno.test("csv: quoting and formula neutralising", () => {
  assert.equal(csvField('a,"b"'), '"a,""b"""');
  assert.equal(csvField("=cmd()"), "'=cmd()");
  assert.equal(csvField("-0.5"), "-0.5");
  assert.equal(csvField(undefined), "");
  assert.equal(toCsv(["x", "y"], [[1, "a\nb"]]), 'x,y\r\n1,"a\nb"\r\n');
});

Deno.test("markdown: raw HTML and script URLs never become markup", () => {
  const html = renderMarkdown(
    "# T\n<script>alert(1)</script> <img src=x onerror=alert(1)>\n[ok](https://x.org) [bad](javascript:alert(1)) " +
      "![i](data:image/svg+xml,abc) **b**",
  );
  assert.ok(!html.includes("<script"), html);
  assert.ok(!html.includes('<img src="x"'), html);
  assert.ok(!/href="javascript/i.test(html), html);
  assert.ok(!html.includes('src="data:'), html);
  assert.ok(html.includes('<a href="https://x.org"'), html);
  assert.ok(html.includes("<strong>b</strong>"), html);
  assert.ok(html.includes("&lt;script&gt;"), html);
  assert.equal(isSafeUrl(" JaVa\tscript:x"), false);
  assert.equal(isSafeUrl("#/runs/abc"), true);
});

Deno.test("smoothEma: debiased, first point unchanged, NaN passes through", () => {
  const s = smoothEma([1, 1, NaN, 1, 3], 0.5);
  assert.equal(s[0], 1);
  assert.equal(s[1], 1);
  assert.ok(Number.isNaN(s[2] as number));
  assert.equal(s[3], 1);
  assert.ok((s[4] as number) > 1 && (s[4] as number) < 3);
  assert.deepEqual(smoothEma([1, 2], 0), [1, 2]);
});

Deno.test("rowWindow: renders only what is on screen", () => {
  const w = rowWindow(28 * 5000, 560, 28, 10_000, 10);
  assert.equal(w.start, 4990);
  assert.equal(w.end, 5031);
  assert.equal(w.padTop + (w.end - w.start) * 28 + w.padBottom, 10_000 * 28);
  const top = rowWindow(0, 560, 28, 3);
  assert.deepEqual([top.start, top.end, top.padBottom], [0, 3, 0]);
  assert.equal(scrollToRow(30, 0, 560, 28), 30 * 28 + 28 - 560);
  assert.equal(scrollToRow(2, 280, 560, 28), 56);
  assert.equal(scrollToRow(12, 280, 560, 28), 280);
});

Deno.test("format helpers", () => {
  assert.equal(formatDuration(125_000), "2m 05s");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatNumber(0.123456789), "0.12346");
  assert.equal(formatNumber(1e-7), "1.0000e-7");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatBytes(1536), "1.5 KiB");
});

Deno.test("actions: reload after a change; a failure reaches onError and skips the reload", async () => {
  const log: string[] = [];
  const act = actions(() => log.push("reload"), (m) => log.push(`error: ${m}`));
  await act(() => Promise.resolve(log.push("change")));
  await act(() => Promise.reject(new Error("Cannot set tag: run is deleted")));
  assert.deepEqual(log, ["change", "reload", "error: Cannot set tag: run is deleted"]);
});
