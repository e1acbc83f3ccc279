/**
 * Run inputs and outputs in MLflow's file layout (spec §1.6, §1.7): datasets stored once per experiment under
 * `<exp>/datasets/<md5(name+digest)>/`, a run's inputs under `<run>/inputs/<md5(source_id+run_id)>/` and the
 * logged models it produced under `<run>/outputs/<model_id>/`. Written the way MLflow writes them — including
 * `destination_id` = source id, so MLflow's own readers see what they expect. Logging inputs journals the run, so
 * the run index (run_index.ts), which reads dataset inputs for search, re-reads it.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { toPyYaml } from "../pyyaml.ts";
import { invalid } from "./errors.ts";
import { exists, listDirs, readTextOrNull, readTextOrNullAsync, writeAtomic } from "./_fs.ts";
import { journal } from "./file_runs.ts";
import { parseYamlObject } from "./meta.ts";
import type { Dataset, DatasetInput, RunInputs, RunOutputs } from "./types.ts";
import { validateModelId } from "./file_logged_models.ts";

const LIMITS: [keyof Dataset, number][] = [
  ["name", 500],
  ["digest", 36],
  ["source", 65535],
  ["schema", 1048575],
  ["profile", 16777215],
];

function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/** `md5(name + digest)`: the id MLflow gives a dataset. */
export function datasetId(name: string, digest: string): string {
  return md5(name + digest);
}

function validateDataset(d: Dataset, tags: Record<string, string>): void {
  for (const f of ["name", "digest", "sourceType", "source"] as const) {
    if (typeof d[f] !== "string" || d[f] === "") {
      throw invalid(
        `Cannot log dataset input: dataset.${f} is missing`,
        "give name, digest, source_type and source",
      );
    }
  }
  for (const [f, max] of LIMITS) {
    const v = d[f];
    if (typeof v === "string" && v.length > max) {
      throw invalid(
        `Cannot log dataset '${d.name}': ${f} is ${v.length} characters, at most ${max} are allowed`,
      );
    }
  }
  for (const [k, v] of Object.entries(tags)) {
    if (k.length > 255) {
      throw invalid(`Cannot log dataset input tag '${k.slice(0, 40)}…': keys are at most 255 characters`);
    }
    if (String(v).length > 500) {
      throw invalid(`Cannot log dataset input tag '${k}': values are at most 500 characters`);
    }
  }
}

/** Writes `meta.yaml` in `dir` unless it exists (re-logging an input never overwrites it). */
function writeOnce(dir: string, meta: Record<string, unknown>): void {
  if (exists(join(dir, "meta.yaml"))) return;
  writeAtomic(join(dir, "meta.yaml"), toPyYaml(meta), dir);
}

/** Records dataset and model inputs of the run in `runDir` (experiment dir `expDir`). */
export function logInputs(
  expDir: string,
  runDir: string,
  runId: string,
  inputs: { datasets?: DatasetInput[]; models?: { modelId: string }[] },
): void {
  for (const d of inputs.datasets ?? []) validateDataset(d.dataset, d.tags ?? {});
  for (const m of inputs.models ?? []) validateModelId(m.modelId);
  for (const { dataset: d, tags } of inputs.datasets ?? []) {
    const id = datasetId(d.name, d.digest);
    writeOnce(join(expDir, "datasets", id), {
      digest: d.digest,
      name: d.name,
      profile: d.profile ?? null,
      schema: d.schema ?? null,
      source: d.source,
      source_type: d.sourceType,
    });
    writeOnce(join(runDir, "inputs", md5(id + runId)), {
      destination_id: id,
      destination_type: "RUN",
      source_id: id,
      source_type: "DATASET",
      tags: { ...(tags ?? {}) },
    });
  }
  for (const { modelId } of inputs.models ?? []) {
    writeOnce(join(runDir, "inputs", md5(modelId + runId)), {
      destination_id: modelId,
      destination_type: "RUN",
      source_id: modelId,
      source_type: "MODEL",
      tags: {},
    });
  }
  journal(expDir, runId);
}

/** Records the logged models a run produced (`<run>/outputs/<model_id>/meta.yaml`). */
export function logOutputs(runDir: string, models: { modelId: string; step: number }[]): void {
  for (const m of models) {
    validateModelId(m.modelId);
    if (!Number.isInteger(m.step)) {
      throw invalid(`Cannot log model output ${m.modelId}: step must be an integer`);
    }
  }
  for (const { modelId, step } of models) {
    writeAtomic(
      join(runDir, "outputs", modelId, "meta.yaml"),
      toPyYaml({
        destination_id: modelId,
        destination_type: "MODEL_OUTPUT",
        source_id: modelId,
        source_type: "RUN_OUTPUT",
        step,
        tags: {},
      }),
      runDir,
    );
  }
}

function parseMeta(text: string | null, path: string): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    return parseYamlObject(text, path);
  } catch {
    return null; // a half-written or foreign file: skipped, as MLflow skips unreadable entries
  }
}

/**
 * An input's meta.yaml: flat but for its `tags` block, which both writers put last (keys sorted), so its two
 * parts each take the YAML reader's flat-mapping fast path (a full parse per input was most of what indexing
 * inputs cost). Any other layout is parsed whole.
 */
function parseInputMeta(text: string | null, path: string): Record<string, unknown> | null {
  const at = text?.indexOf("\ntags:\n") ?? -1;
  if (text === null || at < 0) return parseMeta(text, path);
  const block = text.slice(at + 7);
  if (/^(?: {2}[^ \n][^\n]*\n)*$/.test(block)) {
    const head = parseMeta(text.slice(0, at + 1), path),
      tags = parseMeta(block.replaceAll(/^ {2}/gm, ""), path);
    if (head && tags) return { ...head, tags };
  }
  return parseMeta(text, path);
}

function readMeta(path: string, parse = parseMeta): Record<string, unknown> | null {
  try {
    return parse(readTextOrNull(path), path);
  } catch {
    return null; // unreadable (e.g. a directory in its place)
  }
}

async function readMetaAsync(path: string, parse = parseMeta): Promise<Record<string, unknown> | null> {
  try {
    return parse(await readTextOrNullAsync(path), path);
  } catch {
    return null; // unreadable (e.g. a directory in its place)
  }
}

function datasetOf(d: Record<string, unknown>): Dataset {
  return {
    name: String(d.name),
    digest: String(d.digest),
    sourceType: String(d.source_type),
    source: String(d.source),
    ...(d.schema != null ? { schema: String(d.schema) } : {}),
    ...(d.profile != null ? { profile: String(d.profile) } : {}),
  };
}

function inputTags(m: Record<string, unknown>): Record<string, string> {
  const tags = m.tags && typeof m.tags === "object" ? m.tags as Record<string, unknown> : {};
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)]));
}

/** The run's dataset and model inputs. */
export function readRunInputs(expDir: string, runDir: string): RunInputs {
  const out: RunInputs = { datasetInputs: [], modelInputs: [] };
  for (const id of listDirs(join(runDir, "inputs")).sort()) {
    const m = readMeta(join(runDir, "inputs", id, "meta.yaml"), parseInputMeta);
    if (!m) continue;
    if (m.source_type === "MODEL") {
      out.modelInputs.push({ modelId: String(m.source_id) });
      continue;
    }
    const d = readMeta(join(expDir, "datasets", String(m.source_id), "meta.yaml"));
    if (d) out.datasetInputs.push({ dataset: datasetOf(d), tags: inputTags(m) });
  }
  return out;
}

/**
 * The dataset metas of one experiment by dataset id, shared by the inputs of all its runs. A dataset's meta.yaml
 * is written once and never rewritten (by MLflow or here), so a cached one stays true; a missing one is not cached.
 */
export type DatasetMetas = Map<string, Dataset>;

/**
 * Whether any run of the experiment in `expDir` can have dataset inputs: an input whose dataset meta is missing is
 * skipped, so without `<exp>/datasets/` there are none — one stat instead of one look into every run's `inputs/`.
 */
export function hasDatasets(expDir: string): boolean {
  return exists(join(expDir, "datasets"));
}

/**
 * The run's dataset inputs (what search filters on and returns; model inputs are left to `readRunInputs`), in
 * `readRunInputs`' order, their datasets taken from `metas` when known (the same object for every run).
 */
export function readDatasetInputs(expDir: string, runDir: string, metas: DatasetMetas): DatasetInput[] {
  const out: DatasetInput[] = [];
  for (const id of listDirs(join(runDir, "inputs")).sort()) {
    const m = readMeta(join(runDir, "inputs", id, "meta.yaml"), parseInputMeta);
    if (!m || m.source_type === "MODEL") continue;
    const sourceId = String(m.source_id);
    let dataset = metas.get(sourceId);
    if (!dataset) {
      const d = readMeta(join(expDir, "datasets", sourceId, "meta.yaml"));
      if (!d) continue;
      metas.set(sourceId, dataset = datasetOf(d));
    }
    out.push({ dataset, tags: inputTags(m) });
  }
  return out;
}

/** `readDatasetInputs` with asynchronous reads (the run's input metas in parallel). */
export async function readDatasetInputsAsync(
  expDir: string,
  runDir: string,
  metas: DatasetMetas,
): Promise<DatasetInput[]> {
  const ids: string[] = [];
  try {
    for await (const e of Deno.readDir(join(runDir, "inputs"))) if (e.isDirectory) ids.push(e.name);
  } catch {
    return [];
  }
  const inputs = await Promise.all(
    ids.sort().map((id) => readMetaAsync(join(runDir, "inputs", id, "meta.yaml"), parseInputMeta)),
  );
  const out: DatasetInput[] = [];
  for (const m of inputs) {
    if (!m || m.source_type === "MODEL") continue;
    const sourceId = String(m.source_id);
    let dataset = metas.get(sourceId);
    if (!dataset) {
      const d = await readMetaAsync(join(expDir, "datasets", sourceId, "meta.yaml"));
      if (!d) continue;
      metas.set(sourceId, dataset = metas.get(sourceId) ?? datasetOf(d));
    }
    out.push({ dataset, tags: inputTags(m) });
  }
  return out;
}

/** The logged models the run produced. */
export function readRunOutputs(runDir: string): RunOutputs {
  const out: RunOutputs = { modelOutputs: [] };
  for (const id of listDirs(join(runDir, "outputs")).sort()) {
    const m = readMeta(join(runDir, "outputs", id, "meta.yaml"));
    if (m) out.modelOutputs.push({ modelId: String(m.source_id ?? id), step: Number(m.step ?? 0) });
  }
  return out;
}
