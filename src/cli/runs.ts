/** `storyteller runs`: search, describe, delete and restore tracked runs (MLflow filter grammar). */
import { Command } from "commander";
import { userErrors } from "../tracking/cli_errors.ts";
import {
  describeSync,
  openTracking,
  parseFilter,
  parseOrderBy,
  proto,
  type Run,
  type RunSync,
  syncRuns,
  type ViewType,
} from "../tracking/mod.ts";
import { formatCsv, formatTable } from "../tracking/table.ts";
import { UsageError } from "../errors.ts";
import { intOption } from "./_options.ts";

interface SearchOptions {
  experimentName: string[];
  experimentId: string[];
  filter?: string;
  orderBy: string[];
  maxResults: number;
  pageToken?: string;
  columns?: string;
  format: string;
  view: string;
  trackingUri?: string;
}

const collectList = (v: string, prev: string[] = []) => [...prev, v];

export function runsCommand(): Command {
  const cmd = new Command("runs").description("search and manage tracked runs");
  cmd.command("search").description("search runs with an MLflow filter string")
    .option(
      "--experiment-name <name>",
      "experiment to search (repeatable; default: all active)",
      collectList,
      [],
    )
    .option("--experiment-id <id>", "experiment id to search (repeatable)", collectList, [])
    .option("--filter <filter>", 'MLflow filter string, e.g. "metrics.val/loss < 2.0"')
    .option("--order-by <clause>", 'order, e.g. "metrics.val/loss ASC" (repeatable)', collectList, [])
    .option("--max-results <n>", "maximum number of runs", intOption("--max-results", 1), 100)
    .option("--page-token <token>", "continue a previous search")
    .option("--columns <list>", "comma-separated columns, e.g. metrics.val/loss,params.lr")
    .option("--format <format>", "table, json or csv", "table")
    .option("--view <type>", "active, deleted or all", "active")
    .option("--tracking-uri <uri>", "tracking store or server (default: MLFLOW_TRACKING_URI or ./mlruns)")
    .action(userErrors(async (o: SearchOptions) => {
      console.log(await searchRunsText(o));
    }));
  cmd.command("describe").argument("<run-id>").description(
    "show a run's info, params, metrics, tags and datasets",
  )
    .option("--format <format>", "text or json", "text")
    .option("--tracking-uri <uri>", "tracking store or server")
    .action(userErrors(async (runId: string, o: { format: string; trackingUri?: string }) => {
      const run = await openTracking(o.trackingUri).getRun(runId);
      console.log(o.format === "json" ? JSON.stringify(proto.runToJson(run), null, 2) : describeRun(run));
    }));
  for (const verb of ["delete", "restore"] as const) {
    cmd.command(verb).argument("<run-id>").description(`${verb} a run`)
      .option("--tracking-uri <uri>", "tracking store or server")
      .action(userErrors(async (runId: string, o: { trackingUri?: string }) => {
        const client = openTracking(o.trackingUri);
        await (verb === "delete" ? client.deleteRun(runId) : client.restoreRun(runId));
        console.log(`${verb === "delete" ? "Deleted" : "Restored"} run ${runId}`);
      }));
  }
  cmd.command("sync").argument("<source>", "a local fallback mlruns directory (or its file: URI)")
    .description("deliver runs logged to a local fallback store to the store they were meant for")
    .option("--run-id <id>", "only this run of the source (repeatable; default: all)", collectList)
    .option("--to <uri>", "target store for every run (default: the one the run's fallback tag names)")
    .option("--dry-run", "only print what would be sent")
    .addHelpText(
      "after",
      `
Only what the target lacks is sent: metric points (by key, step, timestamp, value), params, tags, artifacts
(by path and size) and the final status while the target run is RUNNING. A run without a target run (logged
locally from the start, or its run is gone) becomes a new run there, and the local run is tagged
storyteller.synced_to, so a second sync sends nothing.

Exit codes: 0 all sent; 1 a target failed (rerun the same command to continue); 2 bad arguments, an unknown
--run-id, a run with no known target, or params the target holds with other values (reported and skipped).`,
    )
    .action(userErrors(async (source: string, o: { runId?: string[]; to?: string; dryRun?: boolean }) => {
      await syncCommand(source, o);
    }));
  return cmd;
}

/** `runs sync`: one line per run, a summary, and UsageError (exit 2) for param conflicts. */
async function syncCommand(source: string, o: { runId?: string[]; to?: string; dryRun?: boolean }) {
  const verb = o.dryRun ? "would send" : "sent";
  const results = await syncRuns(source, {
    runIds: o.runId,
    to: o.to,
    dryRun: o.dryRun,
    rest: { maxRetries: 3 },
    onRun: (r) => console.log(syncLine(r, verb)),
  });
  const sum = (k: "points" | "params" | "tags" | "artifacts" | "datasets" | "models") =>
    results.reduce((n, r) => n + r[k], 0);
  const conflicts = results.flatMap((r) => r.conflicts.map((c) => `${r.sourceRunId}: ${c}`));
  const total = {
    points: sum("points"),
    params: sum("params"),
    tags: sum("tags"),
    artifacts: sum("artifacts"),
    datasets: sum("datasets"),
    models: sum("models"),
  };
  const statuses = results.filter((r) => r.status).length;
  console.log(
    `${results.length} run${results.length === 1 ? "" : "s"}: ${verb} ${describeSync(total)}` +
      (statuses ? `, ${statuses} final status${statuses === 1 ? "" : "es"}` : "") +
      (o.dryRun ? " (dry run: nothing was sent)" : ""),
  );
  if (conflicts.length) {
    throw new UsageError(
      `Cannot sync ${conflicts.length} param${conflicts.length === 1 ? "" : "s"}: the target holds another ` +
        `value (local → target): ${conflicts.join("; ")}`,
      {
        hint:
          "params cannot change once logged; everything else was sent, check that --to names the right store",
      },
    );
  }
}

function syncLine(r: RunSync, verb: string): string {
  const where = r.targetRunId
    ? `${r.targetUri} run ${r.targetRunId}${r.created ? ` (new: ${r.reason})` : ""}`
    : `${r.targetUri} (a new run: ${r.reason})`;
  const n = r.conflicts.length;
  const conflicts = n ? `; ${n} param conflict${n === 1 ? "" : "s"} skipped` : "";
  return `run ${r.sourceRunId} (${r.runName}) → ${where}: ${verb} ${describeSync(r)}${conflicts}`;
}

function viewType(v: string): ViewType {
  const m: Record<string, ViewType> = { active: "ACTIVE_ONLY", deleted: "DELETED_ONLY", all: "ALL" };
  const t = m[v.toLowerCase()];
  if (!t) throw new UsageError(`Cannot use --view '${v}': expected active, deleted or all`);
  return t;
}

/** Columns named by the filter and order_by (metrics/params/tags), so the table shows what was asked about. */
function impliedColumns(filter: string | undefined, orderBy: string[]): string[] {
  const out: string[] = [];
  const add = (type: string, key: string) => {
    const t = /^metric/.test(type)
      ? "metrics"
      : /^param/.test(type)
      ? "params"
      : /^tag/.test(type)
      ? "tags"
      : "";
    if (t && !out.includes(`${t}.${key}`)) out.push(`${t}.${key}`);
  };
  for (const c of parseFilter(filter)) add(c.ident.type, c.ident.key);
  for (const o of orderBy) {
    const k = parseOrderBy(o).ident;
    add(k.type, k.key);
  }
  return out;
}

function cellOf(run: Run, column: string): string {
  const dot = column.indexOf(".");
  const type = column.slice(0, dot), key = column.slice(dot + 1).replace(/^[`"](.*)[`"]$/, "$1");
  if (type === "metrics" || type === "metric") {
    const v = run.data.metrics[key]?.value;
    return v === undefined ? "" : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  }
  if (type === "params" || type === "param") return run.data.params[key] ?? "";
  if (type === "tags" || type === "tag") return run.data.tags[key] ?? "";
  const info = run.info as unknown as Record<string, unknown>;
  const camel = key.replace(/_(.)/g, (_, c: string) => c.toUpperCase());
  const v = info[camel];
  return v === undefined || v === null ? "" : String(v);
}

export async function searchRunsText(o: SearchOptions): Promise<string> {
  if (!["table", "json", "csv"].includes(o.format)) {
    throw new UsageError(`Cannot use --format '${o.format}': expected table, json or csv`);
  }
  const client = openTracking(o.trackingUri);
  const page = await client.searchRuns({
    experimentNames: o.experimentName.length ? o.experimentName : undefined,
    experimentIds: o.experimentId.length ? o.experimentId : undefined,
    filterString: o.filter,
    orderBy: o.orderBy,
    maxResults: o.maxResults,
    pageToken: o.pageToken,
    viewType: viewType(o.view),
  });
  if (o.format === "json") {
    return JSON.stringify(
      { runs: page.runs.map(proto.runToJson), next_page_token: page.nextPageToken },
      null,
      2,
    );
  }
  const extra = o.columns
    ? o.columns.split(",").map((s) => s.trim()).filter((s) => s)
    : impliedColumns(o.filter, o.orderBy);
  const header = ["run_id", "run_name", "status", ...extra];
  const rows = page.runs.map((
    r,
  ) => [r.info.runId, r.info.runName, r.info.status, ...extra.map((c) => cellOf(r, c))]);
  if (o.format === "csv") return formatCsv(header, rows);
  const more = page.nextPageToken ? `\n(more runs: --page-token ${page.nextPageToken})` : "";
  return (rows.length ? formatTable(header, rows) : "(no runs match)") + more;
}

/** The text of `runs describe`: info, params, metrics, tags, and the dataset inputs with their context. */
export function describeRun(run: Run): string {
  const i = run.info;
  const when = (ms: number | null) => (ms ? new Date(ms).toISOString() : "-");
  const lines = [
    `run ${i.runId} (${i.runName})`,
    `  experiment: ${i.experimentId}   status: ${i.status}   lifecycle: ${i.lifecycleStage}`,
    `  started: ${when(i.startTime)}   ended: ${when(i.endTime)}   user: ${i.userId || "-"}`,
    `  artifacts: ${i.artifactUri}`,
  ];
  const section = (title: string, rows: [string, string][]) => {
    if (!rows.length) return;
    lines.push(`${title}:`);
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows.sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(`  ${k.padEnd(w)}  ${v}`);
  };
  section("params", Object.entries(run.data.params));
  section("metrics", Object.values(run.data.metrics).map((m) => [m.key, `${m.value} (step ${m.step})`]));
  section("tags", Object.entries(run.data.tags));
  const datasets = run.inputs?.datasetInputs ?? [];
  if (datasets.length) {
    lines.push("datasets:");
    for (const { dataset: d, tags } of datasets) {
      const context = tags["mlflow.data.context"] ?? "-";
      lines.push(`  ${context.padEnd(10)}  ${d.name}  digest ${d.digest}  ${d.sourceType} ${d.source}`);
    }
  }
  return lines.join("\n");
}
