/**
 * The run index's sidecar (`.storyteller-index.json` in an experiment directory, ignored by MLflow): every indexed
 * run — info, latest metrics, params, tags, dataset inputs, model outputs, data stamp — so a fresh process starts warm. Not the freshness
 * rules (run_index.ts decides what to re-read after a load); a sidecar of another version or unreadable is ignored.
 */
import { join } from "node:path";
import { readTextOrNull, writeAtomic } from "./_fs.ts";
import { parsePyFloat } from "./meta.ts";
import { pyFloatRepr } from "../pyyaml.ts";
import type { Dataset, Metric, Run } from "./types.ts";
import type { DataStamp } from "./run_data_stamp.ts";

export const SIDECAR = ".storyteller-index.json";
/** 2: runs carry their dataset inputs; 3: and their data stamp and model outputs. */
const VERSION = 3;

/** A run as the index holds it, its meta.yaml mtime and data stamp when it was read, and when that was. */
export interface SavedRun {
  run: Run;
  metaMtime: number;
  stamp: DataStamp | null;
  readAt: number;
}

/** A run in the file; its dataset inputs (when it has any) as [index into `datasets`, input tags]. */
type Row = [
  string,
  number,
  Run["info"],
  [string, string, number, number][],
  Record<string, string>,
  Record<string, string>,
  [number, Record<string, string>][] | null,
  number,
  [number, number] | null,
  [string, number][] | null,
];

interface Sidecar {
  v: number;
  dirMtime: number;
  journalOffset: number;
  /** Each dataset once, however many runs name it (runs read together share one object). */
  datasets: Dataset[];
  runs: Row[];
}

/** The saved runs of the experiment at `expDir` and the journal offset they are current to, or null. */
export function readSidecar(expDir: string): { journalOffset: number; runs: Map<string, SavedRun> } | null {
  const text = readTextOrNull(join(expDir, SIDECAR));
  if (text === null) return null;
  try {
    const j = JSON.parse(text) as Sidecar;
    if (j.v !== VERSION) return null;
    const runs = new Map<string, SavedRun>();
    for (const [id, metaMtime, info, ms, params, tags, inputs, readAt, stamp, outputs] of j.runs) {
      const metrics: Record<string, Metric> = {};
      for (const [key, v, timestamp, step] of ms) {
        metrics[key] = { key, value: parsePyFloat(v), timestamp, step };
      }
      const run: Run = { info, data: { metrics, params, tags } };
      if (inputs?.length) {
        const datasetInputs = inputs.map(([i, tags]) => {
          if (!j.datasets[i]) throw new Error(`dataset ${i} is not in the sidecar`);
          return { dataset: j.datasets[i], tags };
        });
        run.inputs = { datasetInputs, modelInputs: [] };
      }
      if (outputs?.length) {
        run.outputs = { modelOutputs: outputs.map(([modelId, step]) => ({ modelId, step })) };
      }
      runs.set(id, { metaMtime, run, stamp: stamp ? { hash: stamp[0], maxMtime: stamp[1] } : null, readAt });
    }
    return { journalOffset: j.journalOffset, runs };
  } catch {
    return null; // a torn or foreign file: the index is built from the runs instead
  }
}

/** Saves the index of the experiment at `expDir` (quietly skipped on a read-only store). */
export function writeSidecar(
  expDir: string,
  idx: { dirMtime: number; journalOffset: number; entries: Map<string, SavedRun> },
): void {
  const runs: Row[] = [];
  const datasets: Dataset[] = [];
  const at = new Map<Dataset, number>();
  const slot = (d: Dataset) => at.get(d) ?? (at.set(d, datasets.length), datasets.push(d) - 1);
  for (const [id, { run, metaMtime, stamp, readAt }] of idx.entries) {
    const ms = Object.values(run.data.metrics).map((m) =>
      [m.key, pyFloatRepr(m.value), m.timestamp, m.step] as [string, string, number, number]
    );
    const inputs = run.inputs?.datasetInputs;
    runs.push([
      id,
      metaMtime,
      run.info,
      ms,
      run.data.params,
      run.data.tags,
      inputs?.length ? inputs.map((d) => [slot(d.dataset), d.tags]) : null,
      readAt,
      stamp ? [stamp.hash, stamp.maxMtime] : null,
      run.outputs?.modelOutputs.length ? run.outputs.modelOutputs.map((o) => [o.modelId, o.step]) : null,
    ]);
  }
  const sidecar: Sidecar = {
    v: VERSION,
    dirMtime: idx.dirMtime,
    journalOffset: idx.journalOffset,
    datasets,
    runs,
  };
  try {
    writeAtomic(join(expDir, SIDECAR), JSON.stringify(sidecar), expDir);
  } catch { /* a read-only store still searches, just without the sidecar */ }
}
