import assert from "node:assert/strict";
import type { TrackingError } from "../errors.ts";
import type { DatasetInput, Run } from "../types.ts";
import { compileRunFilter, compileRunOrder, searchRunList } from "./runs.ts";
import { parseFilter } from "./filter.ts";

function run(
  id: string,
  o: {
    m?: Record<string, number>;
    p?: Record<string, string>;
    t?: Record<string, string>;
    start?: number;
    status?: Run["info"]["status"];
    name?: string;
  },
): Run {
  const metrics = Object.fromEntries(
    Object.entries(o.m ?? {}).map(([key, value]) => [key, { key, value, timestamp: 0, step: 0 }]),
  );
  return {
    info: {
      runId: id,
      experimentId: "1",
      runName: o.name ?? id,
      userId: "alice",
      status: o.status ?? "FINISHED",
      startTime: o.start ?? 0,
      endTime: null,
      artifactUri: `file:///a/${id}`,
      lifecycleStage: "active",
    },
    data: { metrics, params: o.p ?? {}, tags: o.t ?? {} },
  };
}

const RUNS = [
  run("aa", {
    m: { "val/loss": 1.5, acc: 0.9 },
    p: { lr: "0.01", "opt/name": "adamw" },
    t: { team: "Story" },
    start: 3,
    name: "alpha",
  }),
  run("bb", {
    m: { "val/loss": 2.5 },
    p: { lr: "0.02" },
    t: { team: "story" },
    start: 2,
    status: "FAILED",
    name: "beta",
  }),
  run("cc", { m: { "val/loss": NaN }, p: {}, t: {}, start: 1, status: "RUNNING", name: "it's" }),
  run("dd", { m: {}, p: { lr: "0.01" }, start: 4, name: "delta" }),
];

function ids(filter: string, orderBy?: string[]): string[] {
  return searchRunList(RUNS, { filterString: filter, orderBy }).runs.map((r) => r.info.runId);
}

function fails(filter: string, message: RegExp, column?: number): void {
  assert.throws(() => compileRunFilter(filter), (e: TrackingError) => {
    assert.equal(e.code, "INVALID_PARAMETER_VALUE");
    assert.match(e.message, message);
    if (column !== undefined) assert.equal(e.column, column, `column for ${filter}: ${e.message}`);
    return true;
  }, filter);
}

Deno.test("every numeric comparator on metrics", () => {
  assert.deepEqual(ids("metrics.acc = 0.9"), ["aa"]);
  assert.deepEqual(ids("metrics.`val/loss` != 1.5"), ["bb", "cc"]);
  assert.deepEqual(ids("metrics.val/loss < 2.0"), ["aa"]);
  assert.deepEqual(ids("metrics.val/loss <= 2.5"), ["aa", "bb"]);
  assert.deepEqual(ids('metrics."val/loss" > 1.5'), ["bb"]);
  assert.deepEqual(ids("metric.val/loss >= 1.5"), ["aa", "bb"]);
  assert.deepEqual(ids("metrics.val/loss > -1e3"), ["aa", "bb"]);
  assert.deepEqual(ids("metrics.acc < .95"), ["aa"]);
});

Deno.test("string comparators on params, tags and attributes", () => {
  assert.deepEqual(ids("params.lr = '0.01'"), ["dd", "aa"]);
  assert.deepEqual(ids('params.lr != "0.01"'), ["bb"]);
  assert.deepEqual(ids("params.opt/name LIKE 'adam%'"), ["aa"]);
  assert.deepEqual(ids("param.`opt/name` LIKE 'a_amw'"), ["aa"]);
  assert.deepEqual(ids("tags.team LIKE 'story'"), ["bb"]);
  assert.deepEqual(ids("tags.team ILIKE 'STORY'"), ["aa", "bb"]);
  assert.deepEqual(ids("tags.team = 'Story' AND params.lr = '0.01'"), ["aa"]);
  assert.deepEqual(ids("attributes.status = 'FAILED'"), ["bb"]);
  assert.deepEqual(ids("status != 'FAILED' and run_name LIKE '%a'"), ["dd", "aa"]);
  assert.deepEqual(ids("attributes.`Run name` = 'beta'"), ["bb"]);
  assert.deepEqual(ids("run.run_id IN ('aa', 'cc', 'DD')"), ["aa", "cc"]);
  assert.deepEqual(ids("attr.run_id NOT IN ('aa')"), ["dd", "bb", "cc"]);
  assert.deepEqual(ids("attributes.start_time >= 3"), ["dd", "aa"]);
  assert.deepEqual(ids("created < 2"), ["cc"]);
  assert.deepEqual(ids("run_name = 'it''s'"), []); // no escape processing, as MLflow
  assert.deepEqual(ids("tags.team IS NULL"), ["dd", "cc"]);
  assert.deepEqual(ids("params.lr IS NOT NULL"), ["dd", "aa", "bb"]);
  assert.deepEqual(ids("params.lr LIKE '0.0_'"), ["dd", "aa", "bb"]);
  assert.deepEqual(ids("params.lr LIKE '0_01'"), ["dd", "aa"]);
  assert.deepEqual(ids("params.lr LIKE '0x01'"), []); // '.' in a LIKE pattern is literal here
});

Deno.test("a run lacking the key never matches, even for !=", () => {
  assert.deepEqual(ids("metrics.acc != 1"), ["aa"]);
  assert.deepEqual(ids("params.lr != 'x'"), ["dd", "aa", "bb"]);
});

Deno.test("errors name the problem and its column", () => {
  fails("metrics.a-b < 2", /Expected 'Identifier' found 'metrics.a-b'/, 1);
  fails("metrics.x < 1 OR metrics.y < 2", /Invalid clause\(s\) in filter string: 'OR'/, 15);
  fails("metrics.x < '0.5'", /Expected numeric value type for metric. Found '0.5'/, 13);
  fails(
    "params.lr = 0.01",
    /Expected a quoted string value for parameter \(e.g. 'my-value'\). Got value 0.01/,
    13,
  );
  fails("params.lr = abc", /Expected a quoted string value/, 13);
  fails("metrics.x LIKE '1'", /Invalid comparator 'LIKE'/, 11);
  // MLflow checks the value first: a list for a param is "not a quoted string" (issue 16 item 6).
  fails(
    "params.x IN ('a')",
    /Expected a quoted string value for parameter \(e.g. 'my-value'\). Got value \('a'\)/,
    13,
  );
  fails("attributes.status IN ('a')", /Invalid comparator 'IN'/, 19);
  fails(
    "foo.x = 'a'",
    /Invalid entity type 'foo'. Valid values are \['metric', 'parameter', 'tag', 'attribute', 'dataset'\]/,
    1,
  );
  fails("attributes.lifecycle_stage = 'a'", /Invalid attribute key 'lifecycle_stage'/, 1);
  fails("metrics.x < 1; metrics.y < 2", /multiple expression/, 14);
  fails("(metrics.x < 1)", /Invalid clause/, 1);
  fails("NOT metrics.x < 1", /Invalid clause|Expected/);
  fails("metrics.x", /comparator/);
  fails("metrics.x <> 1", /Invalid comparator '<>'/, 11);
  fails("params.x = 'unterminated", /unterminated/, 12);
  fails("metrics.`x < 1", /unterminated/);
  fails("start_time > 'a'", /Expected numeric value type for attribute/);
  fails("tags.t IS maybe", /Invalid clause/);
  fails("run_id IN 'a'", /expected a non-empty list/);
});

/** A run with dataset inputs `[name, digest, context?]` (undefined: a run whose inputs were never read). */
function withInputs(id: string, start: number, inputs?: [string, string, string?][]): Run {
  const r = run(id, { start });
  if (!inputs) return r;
  const datasetInputs: DatasetInput[] = inputs.map(([name, digest, context]) => ({
    dataset: { name, digest, sourceType: "local", source: "{}" },
    tags: context === undefined ? {} : { "mlflow.data.context": context } as Record<string, string>,
  }));
  return { ...r, inputs: { datasetInputs, modelInputs: [] } };
}

const DS_RUNS = [
  withInputs("d1", 5, [["stories", "abc123", "training"], ["stories-val", "def456", "validation"]]),
  withInputs("d2", 4, [["Stories", "12345678", "training"]]),
  withInputs("d3", 3, [["extra", "ffff0000"]]),
  withInputs("d4", 2),
  withInputs("d5", 1, []),
];

function dsIds(filter: string): string[] {
  return searchRunList(DS_RUNS, { filterString: filter }).runs.map((r) => r.info.runId);
}

Deno.test("dataset.name, digest and context: a run matches when ANY of its dataset inputs does", () => {
  assert.deepEqual(dsIds("dataset.name = 'stories'"), ["d1"]);
  assert.deepEqual(dsIds("datasets.digest = 'def456'"), ["d1"]);
  assert.deepEqual(dsIds("dataset.context = 'training'"), ["d1", "d2"]);
  assert.deepEqual(dsIds("dataset.context = 'validation'"), ["d1"]);
  assert.deepEqual(dsIds("dataset.name LIKE 'stories%'"), ["d1"]);
  assert.deepEqual(dsIds("dataset.name ILIKE 'STORIES'"), ["d1", "d2"]);
  assert.deepEqual(dsIds("dataset.digest LIKE '%0000'"), ["d3"]);
  assert.deepEqual(dsIds("dataset.context ILIKE 'VALID%'"), ["d1"]);
  assert.deepEqual(dsIds("dataset.name IN ('stories', 'extra')"), ["d1", "d3"]);
  assert.deepEqual(dsIds('`dataset`."name" = "extra"'), ["d3"]);
  // Each clause may be met by a different input, as in MLflow.
  assert.deepEqual(dsIds("dataset.context = 'validation' AND dataset.name = 'stories'"), ["d1"]);
  assert.deepEqual(dsIds("dataset.context = 'training' AND dataset.digest = 'def456'"), ["d1"]);
});

Deno.test("dataset.* != and NOT IN: any other input passes; runs without dataset inputs never match", () => {
  // d1 has a second input named otherwise; d4 (inputs unread) and d5 (none) never match.
  assert.deepEqual(dsIds("dataset.name != 'stories'"), ["d1", "d2", "d3"]);
  assert.deepEqual(dsIds("dataset.name != 'extra'"), ["d1", "d2"]);
  assert.deepEqual(dsIds("dataset.name NOT IN ('stories', 'stories-val', 'extra')"), ["d2"]);
  // context looks only at inputs that carry the tag: d3's input has none.
  assert.deepEqual(dsIds("dataset.context != 'training'"), ["d1"]);
  assert.deepEqual(dsIds("dataset.context NOT IN ('training')"), ["d1"]);
  assert.deepEqual(dsIds("dataset.context LIKE '%'"), ["d1", "d2"]);
  assert.deepEqual(dsIds("dataset.name LIKE '%'"), ["d1", "d2", "d3"]);
});

Deno.test("dataset.* IN lists keep only what Python's str.islower() accepts, as MLflow does", () => {
  assert.deepEqual(dsIds("dataset.name IN ('Stories')"), []); // an uppercase letter: dropped
  assert.deepEqual(dsIds("dataset.digest IN ('12345678')"), []); // no cased letter: dropped
  // NOT IN a list emptied by the drop: every run with a dataset input passes.
  assert.deepEqual(dsIds("dataset.name NOT IN ('Stories')"), ["d1", "d2", "d3"]);
  assert.deepEqual(dsIds("dataset.digest IN ('12345678', 'abc123')"), ["d1"]);
  assert.deepEqual(dsIds("dataset.name = 'Stories'"), ["d2"]); // = compares as written
});

Deno.test("dataset.* errors, in MLflow's order: key, then value, then comparator", () => {
  fails(
    "dataset.foo = 'x'",
    /Invalid dataset key 'foo' specified. Valid keys are '\['name','digest','context'\]'/,
    1,
  );
  fails("dataset.foo > 5", /Invalid dataset key 'foo'/, 1);
  fails("dataset.name = 5", /Expected a quoted string value for dataset attributes. Got value 5 \(at/, 16);
  fails("dataset.name > 5", /Expected a quoted string value for dataset attributes/, 16);
  fails("dataset.name = train", /Parameter value is either not quoted .* string value train. Use either/, 16);
  fails(
    "dataset.name > 'a'",
    /Invalid comparator '>' not one of '\['=','!=','LIKE','ILIKE','IN','NOT IN'\]'/,
    14,
  );
  fails("dataset.context IS NULL", /Invalid comparator 'IS NULL'/, 17);
  fails("dataset.name IN 'a'", /expected a non-empty list/);
  assert.throws(() => compileRunOrder(["dataset.name DESC"]), /Invalid order_by entity type 'dataset'/);
  assert.throws(() => compileRunOrder(["dataset.size"]), /Invalid dataset key 'size'/);
});

Deno.test("identifiers split at the first dot; quoting forms", () => {
  const [c] = parseFilter("tags.mlflow.runName = 'x'");
  assert.equal(c.ident.type, "tags");
  assert.equal(c.ident.key, "mlflow.runName");
  assert.equal(parseFilter("`metrics`.`a b` > 1")[0].ident.key, "a b");
  assert.equal(parseFilter('metrics."a b" > 1')[0].ident.key, "a b");
  assert.equal(parseFilter("metrics.a>1 AND params.b='c'").length, 2);
  assert.deepEqual(parseFilter("  "), []);
});

Deno.test("order_by: several keys, ASC/DESC, missing last, NaN after numbers", () => {
  assert.deepEqual(ids("", ["metrics.val/loss ASC"]), ["aa", "bb", "cc", "dd"]);
  assert.deepEqual(ids("", ["metrics.`val/loss` DESC"]), ["bb", "aa", "cc", "dd"]);
  assert.deepEqual(ids("", ["params.lr desc", "attributes.run_name"]), ["bb", "aa", "dd", "cc"]);
  assert.deepEqual(ids(""), ["dd", "aa", "bb", "cc"]); // default start_time DESC
  assert.throws(() => compileRunOrder(["metrics.x SIDEWAYS"]), /Invalid ordering key/);
  assert.throws(() => compileRunOrder(["metrics.a-b DESC"]), /Could not be parsed/);
});

Deno.test("max_results and page tokens", () => {
  const p1 = searchRunList(RUNS, { maxResults: 3 });
  assert.equal(p1.runs.length, 3);
  assert.ok(p1.nextPageToken);
  const p2 = searchRunList(RUNS, { maxResults: 3, pageToken: p1.nextPageToken });
  assert.deepEqual(p2.runs.map((r) => r.info.runId), ["cc"]);
  assert.equal(p2.nextPageToken, undefined);
  assert.throws(() => searchRunList(RUNS, { pageToken: "%%%" }), /Invalid page token/);
  assert.throws(() => searchRunList(RUNS, { maxResults: 50001 }), /max_results/);
});
