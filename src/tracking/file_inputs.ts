/**
 * Run inputs and outputs in MLflow's file layout (spec §1.6, §1.7): datasets stored once per experiment under
 * `<exp>/datasets/<md5(name+digest)>/`, a run's inputs under `<run>/inputs/<md5(source_id+run_id)>/` and the
 * logged models it produced under `<run>/outputs/<model_id>/`. Written the way MLflow writes them — including
 * `destination_id` = source id, so MLflow's own readers see what they expect.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { toPyYaml } from "../pyyaml.ts";
import { invalid } from "./errors.ts";
import { exists, listDirs, readTextOrNull, writeAtomic } from "./_fs.ts";
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

function readMeta(path: string): Record<string, unknown> | null {
  const text = readTextOrNull(path);
  if (text === null) return null;
  try {
    return parseYamlObject(text, path);
  } catch {
    return null; // a half-written or foreign file: skipped, as MLflow skips unreadable entries
  }
}

/** The run's dataset and model inputs. */
export function readRunInputs(expDir: string, runDir: string): RunInputs {
  const out: RunInputs = { datasetInputs: [], modelInputs: [] };
  for (const id of listDirs(join(runDir, "inputs")).sort()) {
    const m = readMeta(join(runDir, "inputs", id, "meta.yaml"));
    if (!m) continue;
    if (m.source_type === "MODEL") {
      out.modelInputs.push({ modelId: String(m.source_id) });
      continue;
    }
    const d = readMeta(join(expDir, "datasets", String(m.source_id), "meta.yaml"));
    if (!d) continue;
    const tags = m.tags && typeof m.tags === "object" ? m.tags as Record<string, unknown> : {};
    out.datasetInputs.push({
      dataset: {
        name: String(d.name),
        digest: String(d.digest),
        sourceType: String(d.source_type),
        source: String(d.source),
        ...(d.schema != null ? { schema: String(d.schema) } : {}),
        ...(d.profile != null ? { profile: String(d.profile) } : {}),
      },
      tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])),
    });
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
