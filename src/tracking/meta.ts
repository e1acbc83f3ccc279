/**
 * MLflow's meta.yaml files ↔ entities: experiment and run metadata with MLflow's exact key sets, plus metric
 * line formatting/parsing (`<timestamp> <value> <step>`, values as Python's `str(float)`).
 */
import { pyFloatRepr, toPyYaml } from "../pyyaml.ts";
import { parsePyYaml } from "../yaml.ts";
import { TrackingError } from "./errors.ts";
import type { Experiment, LifecycleStage, Metric, RunInfo, RunStatus } from "./types.ts";

const STATUS_CODES: Record<RunStatus, number> = {
  RUNNING: 1,
  SCHEDULED: 2,
  FINISHED: 3,
  FAILED: 4,
  KILLED: 5,
};
const STATUS_NAMES: Record<number, RunStatus> = {
  1: "RUNNING",
  2: "SCHEDULED",
  3: "FINISHED",
  4: "FAILED",
  5: "KILLED",
};

export const RUN_STATUSES: RunStatus[] = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

export function statusCode(status: RunStatus): number {
  return STATUS_CODES[status];
}

export function parseRunStatus(value: unknown): RunStatus {
  if (typeof value === "number" && STATUS_NAMES[value]) return STATUS_NAMES[value];
  if (typeof value === "string" && (RUN_STATUSES as string[]).includes(value)) return value as RunStatus;
  throw new TrackingError("INVALID_PARAMETER_VALUE", `Invalid run status: '${value}'`, {
    hint: `use one of ${RUN_STATUSES.join(", ")}`,
  });
}

/** Experiment meta.yaml text; `withTags` as MLflow writes it on rename/delete/restore (the full entity). */
export function formatExperimentMeta(e: Experiment, withTags = false): string {
  const meta: Record<string, unknown> = {
    artifact_location: e.artifactLocation,
    creation_time: e.creationTime,
    experiment_id: e.experimentId,
    last_update_time: e.lastUpdateTime,
    lifecycle_stage: e.lifecycleStage,
    name: e.name,
  };
  if (withTags) meta.tags = { ...e.tags };
  return toPyYaml(meta);
}

/** Parses experiment meta.yaml (tags are read separately from tags/). */
export function parseExperimentMeta(text: string, where: string): Omit<Experiment, "tags"> {
  const m = parseYamlObject(text, where);
  if (m.experiment_id === undefined || m.experiment_id === null || typeof m.name !== "string") {
    throw malformed(where, "missing experiment_id or name");
  }
  return {
    experimentId: String(m.experiment_id),
    name: m.name,
    artifactLocation: String(m.artifact_location ?? ""),
    lifecycleStage: (m.lifecycle_stage === "deleted" ? "deleted" : "active") as LifecycleStage,
    creationTime: typeof m.creation_time === "number" ? m.creation_time : undefined,
    lastUpdateTime: typeof m.last_update_time === "number" ? m.last_update_time : undefined,
  };
}

/** Run meta.yaml text with MLflow 3.6's exact key set. */
export function formatRunMeta(r: RunInfo): string {
  const meta: Record<string, unknown> = {
    artifact_uri: r.artifactUri,
    end_time: r.endTime,
    entry_point_name: "",
    experiment_id: r.experimentId,
    lifecycle_stage: r.lifecycleStage,
    run_id: r.runId,
    run_name: r.runName,
    source_name: "",
    source_type: 4,
    source_version: "",
    start_time: r.startTime,
    status: STATUS_CODES[r.status],
    tags: [],
    user_id: r.userId,
  };
  if (r.lifecycleStage === "deleted" && r.deletedTime !== undefined) meta.deleted_time = r.deletedTime;
  return toPyYaml(meta);
}

/** Parses run meta.yaml with MLflow's tolerances (missing status → RUNNING, int experiment_id → string). */
export function parseRunMeta(text: string, where: string): RunInfo {
  const m = parseYamlObject(text, where);
  const runId = m.run_id ?? m.run_uuid;
  if (typeof runId !== "string" || m.experiment_id === undefined) throw malformed(where, "missing run_id");
  return {
    runId,
    experimentId: String(m.experiment_id),
    runName: typeof m.run_name === "string" ? m.run_name : m.run_name == null ? "" : String(m.run_name),
    userId: m.user_id == null ? "" : String(m.user_id),
    status: m.status === undefined || m.status === null ? "RUNNING" : parseRunStatus(m.status),
    startTime: typeof m.start_time === "number" ? m.start_time : 0,
    endTime: typeof m.end_time === "number" ? m.end_time : null,
    artifactUri: String(m.artifact_uri ?? ""),
    lifecycleStage: m.lifecycle_stage === "deleted" ? "deleted" : "active",
    deletedTime: typeof m.deleted_time === "number" ? m.deleted_time : undefined,
  };
}

export function parseYamlObject(text: string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = parsePyYaml(text);
  } catch (err) {
    throw malformed(where, (err as Error).message);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw malformed(where, "not a mapping");
  return v as Record<string, unknown>;
}

function malformed(where: string, what: string): TrackingError {
  return new TrackingError("INTERNAL_ERROR", `Cannot read ${where}: malformed meta.yaml (${what})`);
}

/** One metric line as MLflow appends it. */
export function formatMetricLine(m: Metric): string {
  const base = `${m.timestamp} ${pyFloatRepr(m.value)} ${m.step}`;
  return m.datasetName !== undefined ? `${base} ${m.datasetName} ${m.datasetDigest ?? ""}\n` : base + "\n";
}

/** Python's `float(str)` for metric values (`nan`, `inf`, `-inf`, `Infinity`, decimals). */
export function parsePyFloat(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === "nan" || t === "+nan" || t === "-nan") return NaN;
  if (t === "inf" || t === "+inf" || t === "infinity" || t === "+infinity") return Infinity;
  if (t === "-inf" || t === "-infinity") return -Infinity;
  const v = Number(t.replaceAll("_", ""));
  if (t === "" || Number.isNaN(v)) throw new Error(`not a float: '${s}'`);
  return v;
}

/**
 * An integer field of a metric line (timestamp, step), or NaN unless it is a plain decimal integer within
 * ±(2^53 − 1): a longer one would be rounded, and a rounded step or timestamp is an invented value.
 */
export function parseMetricInt(s: string): number {
  if (!/^[-+]?\d{1,16}$/.test(s)) return NaN;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : NaN;
}

/** The error for line `lineNo` (1-based) of a metric file: says which, never what it holds. */
export function malformedMetricLine(
  key: string,
  where: string,
  lineNo: number,
  expected: string,
): TrackingError {
  return new TrackingError(
    "INTERNAL_ERROR",
    `Cannot read metric '${key}' from ${where}: line ${lineNo} is malformed (expected '${expected}', with integer ` +
      `timestamp and step within ±(2^53 - 1))`,
  );
}

/**
 * Parses a metric file. A last line without its newline is a write in progress (or cut by a crash) and not a
 * point yet: appenders remove such a tail before they write (see `appendText`). Any other malformed line is an
 * INTERNAL_ERROR, as in MLflow: no line is skipped and no rounded step or timestamp is returned.
 */
export function parseMetricLines(key: string, text: string, where: string): Metric[] {
  const out: Metric[] = [];
  let start = 0, lineNo = 0;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) break;
    const line = text.slice(start, nl);
    start = nl + 1;
    lineNo++;
    if (line === "") continue;
    const f = line.split(" ");
    const bad = () => malformedMetricLine(key, where, lineNo, "<timestamp> <value> <step>");
    if (f.length !== 2 && f.length !== 3 && f.length !== 5) throw bad();
    let value: number;
    try {
      value = parsePyFloat(f[1]);
    } catch {
      throw bad();
    }
    const timestamp = parseMetricInt(f[0]);
    const step = f.length >= 3 ? parseMetricInt(f[2]) : 0;
    if (Number.isNaN(timestamp) || Number.isNaN(step)) throw bad();
    const m: Metric = { key, value, timestamp, step };
    if (f.length === 5) {
      m.datasetName = f[3];
      m.datasetDigest = f[4];
    }
    out.push(m);
  }
  return out;
}

/** The "latest" point: max by (step, timestamp, value), as MLflow reports it in run data. */
export function latestOf(history: Metric[]): Metric | undefined {
  let best: Metric | undefined;
  for (const m of history) {
    if (
      !best || m.step > best.step || (m.step === best.step && m.timestamp > best.timestamp) ||
      (m.step === best.step && m.timestamp === best.timestamp && m.value > best.value)
    ) best = m;
  }
  return best;
}
