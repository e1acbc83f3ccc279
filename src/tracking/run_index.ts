/**
 * The read cache that makes search fast: every run of an experiment held in memory, refreshed by what changed
 * since the last look — new or removed run directories (experiment dir mtime) and runs named in the journal since
 * the last offset (every storyteller writer journals). Writes by other tools (real MLflow) do not journal: runs
 * whose meta.yaml mtime moved are found by a sweep that stats every run, done at most once per `staleMs`, which
 * bounds how long such a write can go unseen. A sidecar file (`.storyteller-index.json` in the experiment dir,
 * ignored by MLflow) lets a fresh process start warm.
 */
import { join } from "node:path";
import { mtimeOf, readTextOrNull, writeAtomic } from "./_fs.ts";
import { JOURNAL, listRunDirs, readRun } from "./file_runs.ts";
import { parsePyFloat } from "./meta.ts";
import { pyFloatRepr } from "../yaml.ts";
import type { Metric, Run } from "./types.ts";

export const SIDECAR = ".storyteller-index.json";
const SIDECAR_VERSION = 1;
/** Save the sidecar when a refresh re-read at least this many runs. */
const SAVE_THRESHOLD = 50;

interface Entry {
  run: Run;
  metaMtime: number;
}

interface ExperimentIndex {
  dirMtime: number;
  journalOffset: number;
  entries: Map<string, Entry>;
  /** performance.now() of the last meta.yaml sweep (0: never). */
  sweptAt: number;
  /** Bumped whenever an entry is added, replaced or removed (keys result caches). */
  generation: number;
}

/** Default bound on how long a write by a non-storyteller tool may stay invisible to search. */
export const DEFAULT_STALE_MS = 2000;
/** How recent a meta.yaml mtime must be for equality to prove nothing (coarse file clocks). */
const MTIME_SLACK_MS = 2000;
let generations = 0;

const indexes = new Map<string, ExperimentIndex>();

function loadEntry(expDir: string, id: string, expId: string): Entry | null {
  const dir = join(expDir, id);
  const metaMtime = mtimeOf(join(dir, "meta.yaml"));
  try {
    const run = readRun(dir);
    if (run.info.runId !== id || run.info.experimentId !== expId) return null;
    return { run, metaMtime };
  } catch {
    return null; // unreadable or vanished: MLflow skips such directories too
  }
}

/** Reads journal lines after `offset`; returns run ids and the offset after the last complete line. */
function readJournal(expDir: string, offset: number): { ids: Set<string>; offset: number } {
  const path = join(expDir, JOURNAL);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return { ids: new Set(), offset: 0 };
  }
  try {
    const size = file.statSync().size;
    if (size < offset) offset = 0; // journal replaced: re-read it all
    if (size === offset) return { ids: new Set(), offset };
    const buf = new Uint8Array(size - offset);
    file.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < buf.length) {
      const n = file.readSync(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    const text = new TextDecoder().decode(buf.subarray(0, got));
    const end = text.lastIndexOf("\n") + 1;
    const ids = new Set(text.slice(0, end).split("\n").filter((s) => s));
    return { ids, offset: offset + new TextEncoder().encode(text.slice(0, end)).length };
  } finally {
    file.close();
  }
}

function journalSize(expDir: string): number {
  try {
    return Deno.statSync(join(expDir, JOURNAL)).size;
  } catch {
    return 0;
  }
}

type SidecarRun = [
  string,
  number,
  Run["info"],
  [string, string, number, number][],
  Record<string, string>,
  Record<string, string>,
];

function loadSidecar(expDir: string): ExperimentIndex | null {
  const text = readTextOrNull(join(expDir, SIDECAR));
  if (text === null) return null;
  try {
    const j = JSON.parse(text) as { v: number; dirMtime: number; journalOffset: number; runs: SidecarRun[] };
    if (j.v !== SIDECAR_VERSION) return null;
    const entries = new Map<string, Entry>();
    for (const [id, metaMtime, info, ms, params, tags] of j.runs) {
      const metrics: Record<string, Metric> = {};
      for (const [key, v, timestamp, step] of ms) {
        metrics[key] = { key, value: parsePyFloat(v), timestamp, step };
      }
      entries.set(id, { metaMtime, run: { info, data: { metrics, params, tags } } });
    }
    // The directory listing is always re-checked after a sidecar load (dirMtime 0 forces it).
    return { dirMtime: 0, journalOffset: j.journalOffset, entries, sweptAt: 0, generation: ++generations };
  } catch {
    return null;
  }
}

function saveSidecar(expDir: string, idx: ExperimentIndex): void {
  const runs: SidecarRun[] = [];
  for (const [id, e] of idx.entries) {
    const ms = Object.values(e.run.data.metrics).map((m) =>
      [m.key, pyFloatRepr(m.value), m.timestamp, m.step] as [string, string, number, number]
    );
    runs.push([id, e.metaMtime, e.run.info, ms, e.run.data.params, e.run.data.tags]);
  }
  try {
    writeAtomic(
      join(expDir, SIDECAR),
      JSON.stringify({ v: SIDECAR_VERSION, dirMtime: idx.dirMtime, journalOffset: idx.journalOffset, runs }),
      expDir,
    );
  } catch { /* a read-only store still searches, just without the sidecar */ }
}

/**
 * A cheap stamp of an experiment directory's state as the file store writes it: its mtime (runs added or removed)
 * and its journal's size (every storyteller write). Equal stamps mean no storyteller writer changed anything.
 */
export function changeStamp(expDir: string): string {
  return `${mtimeOf(expDir)}:${journalSize(expDir)}`;
}

/**
 * All readable runs of the experiment whose directory is `expDir`, up to date with every storyteller writer and
 * at most `staleMs` behind other tools; `generation` changes whenever the set or any run changed.
 * The returned runs are shared cache objects: callers must not mutate them.
 */
export function experimentIndex(
  expDir: string,
  expId: string,
  staleMs = DEFAULT_STALE_MS,
): { runs: Iterable<Run>; generation: number } {
  let idx = indexes.get(expDir);
  let reread = 0, removed = 0;
  if (!idx) {
    idx = loadSidecar(expDir) ?? {
      dirMtime: 0,
      journalOffset: journalSize(expDir),
      entries: new Map(),
      sweptAt: 0,
      generation: ++generations,
    };
    indexes.set(expDir, idx);
  }
  // 1. the journal first: anything journaled after this point is seen by the next refresh.
  const j = journalSize(expDir) === idx.journalOffset
    ? { ids: new Set<string>(), offset: idx.journalOffset }
    : readJournal(expDir, idx.journalOffset);
  idx.journalOffset = j.offset;
  // 2. the run directory listing, when the experiment directory changed.
  const dirMtime = mtimeOf(expDir);
  if (dirMtime !== idx.dirMtime || dirMtime === 0) {
    const ids = new Set(listRunDirs(expDir));
    for (const id of idx.entries.keys()) {
      if (!ids.has(id)) idx.entries.delete(id), removed++;
    }
    for (const id of ids) {
      if (!idx.entries.has(id)) {
        const e = loadEntry(expDir, id, expId);
        reread++;
        if (e) idx.entries.set(id, e);
        j.ids.delete(id);
      }
    }
    idx.dirMtime = dirMtime;
  }
  // 3. journaled runs, and (in a sweep) runs whose meta.yaml changed behind our back.
  const now = performance.now();
  const sweep = idx.sweptAt === 0 || now - idx.sweptAt >= staleMs;
  const reload = (id: string) => {
    const fresh = loadEntry(expDir, id, expId);
    reread++;
    if (fresh) idx.entries.set(id, fresh);
    else idx.entries.delete(id);
  };
  for (const id of j.ids) reload(id); // journaled ids include runs created within the dir mtime's resolution
  if (sweep) {
    for (const [id, e] of idx.entries) {
      const mtime = mtimeOf(join(expDir, id, "meta.yaml"));
      // File clocks tick coarsely (a kernel tick, or a second on some filesystems): a rewrite in the same tick as
      // our read keeps the mtime, so a file changed within the last tick-slack is re-read on every sweep.
      if (!j.ids.has(id) && (mtime !== e.metaMtime || Date.now() - mtime < MTIME_SLACK_MS)) reload(id);
    }
    idx.sweptAt = now;
  }
  if (reread + removed > 0) idx.generation = ++generations;
  if (reread >= SAVE_THRESHOLD) saveSidecar(expDir, idx);
  const entries = idx.entries;
  return {
    generation: idx.generation,
    runs: {
      *[Symbol.iterator]() {
        for (const e of entries.values()) yield e.run;
      },
    },
  };
}

/** The runs of `experimentIndex` alone. */
export function experimentRuns(expDir: string, expId: string, staleMs = DEFAULT_STALE_MS): Iterable<Run> {
  return experimentIndex(expDir, expId, staleMs).runs;
}

/** Drops the in-memory index (tests, or after moving experiment directories). */
export function forgetIndex(expDir?: string): void {
  if (expDir) indexes.delete(expDir);
  else indexes.clear();
}
