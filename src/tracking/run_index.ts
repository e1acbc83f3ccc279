/**
 * The read cache that makes search fast: every run of an experiment held in memory, refreshed by what changed
 * since the last look — new or removed run directories (experiment dir mtime) and runs named in the journal since
 * the last offset (every storyteller writer journals). Writes by other tools (real MLflow) do not journal: runs
 * whose meta.yaml mtime moved are found by a sweep that stats every run, done at most once per `staleMs`. Writes that
 * leave meta.yaml alone (MLflow appending a metric, adding a param, setting a tag) are found by a data stamp per run
 * (run_data_stamp.ts): live runs (RUNNING, or data changed in the last minute) are stamped on every sweep, the others
 * in a rolling pass that covers every run once per `foreignMs`. A sidecar file (`.storyteller-index.json` in the experiment dir,
 * ignored by MLflow) lets a fresh process start warm. One refresh (a generator) serves two drivers: the async one
 * reads runs in parallel (a cold build of 10,000 runs), the sync one reads them one by one.
 * Each run carries its dataset inputs (what `dataset.*` filters look at and searches return; not its model inputs),
 * read only in experiments that have a `datasets/` directory, their dataset metas cached by id, and its model outputs
 * (MLflow 3 search results carry them), read only in experiments that have a `models/` directory.
 */
import { join } from "node:path";
import { isDir, listDirs, mtimeOf } from "./_fs.ts";
import { JOURNAL, readRun, readRunAsync, RESERVED_IN_EXPERIMENT } from "./file_runs.ts";
import {
  type DatasetMetas,
  hasDatasets,
  readDatasetInputs,
  readDatasetInputsAsync,
  readRunOutputs,
} from "./file_inputs.ts";
import { readSidecar, SIDECAR, writeSidecar } from "./run_index_sidecar.ts";
import { dataChanged, type DataStamp, isLive, rollingShare } from "./run_data_stamp.ts";
import type { DatasetInput, Run, RunOutputs } from "./types.ts";

export { SIDECAR };
/** Save the sidecar when a refresh re-read at least this many runs. */
const SAVE_THRESHOLD = 50;

interface Entry {
  run: Run;
  metaMtime: number;
  /**
   * The stamp of the run's files (null until the first pass after the read stamps it: a cold build does not pay
   * for stamps), and Date.now() just before the read.
   */
  stamp: DataStamp | null;
  readAt: number;
  /** The `loadSeq` of the refresh that read it: a slower, older read never replaces a newer one. */
  seq: number;
}

type Loaded = Omit<Entry, "seq">;

interface ExperimentIndex {
  dirMtime: number;
  journalOffset: number;
  entries: Map<string, Entry>;
  /** performance.now() of the last meta.yaml sweep (0: never). */
  sweptAt: number;
  /** performance.now() of the last step of the rolling data-stamp pass (0: never), and where it stopped. */
  stampedAt: number;
  stampCursor: number;
  /** Runs a rolling pass found changed, for the next refresh to read. */
  pending: Set<string>;
  /** Bumped whenever an entry is added, replaced or removed (keys result caches). */
  generation: number;
  /** The experiment's dataset metas read so far, by dataset id. */
  datasets: DatasetMetas;
}

/** Default bound on how long a write by a non-storyteller tool may stay invisible to search. */
export const DEFAULT_STALE_MS = 2000;
/**
 * Default bound for a write by another tool to the metric, param or tag files of a run that is not live (FINISHED,
 * and untouched for a minute): the rolling pass stamps every run once per this interval.
 */
export const DEFAULT_FOREIGN_MS = 10_000;
/** How recent a meta.yaml mtime must be for equality to prove nothing (coarse file clocks). */
const MTIME_SLACK_MS = 2000;
let generations = 0;

/** Runs read in parallel by an async refresh (each run's own files are read in parallel too). */
const CONCURRENCY = 64;
/** Runs per synchronous chunk, and the mean read time per run above which the rest is read in parallel. */
const SYNC_CHUNK = 32;
const SYNC_MS_PER_RUN = 1;
/** The longest the synchronous chunks hold the event loop before letting requests in. */
const YIELD_MS = 50;
let loadSeq = 0;

const indexes = new Map<string, ExperimentIndex>();
/** The async refresh in progress per experiment directory: the next one waits for it. */
const building = new Map<string, Promise<unknown>>();
/** The async rolling data-stamp pass in progress per experiment directory. */
const passes = new Map<string, Promise<unknown>>();

/** What a refresh reads: these runs, with their dataset inputs when `metas` is given (the experiment has some). */
interface Plan {
  ids: string[];
  metas: DatasetMetas | null;
  /** Whether to read model outputs: only in experiments with a `models/` directory (where logged models live). */
  outputs: boolean;
}

function loadEntry(
  expDir: string,
  id: string,
  expId: string,
  metas: DatasetMetas | null,
  outputs = false,
): Loaded | null {
  const dir = join(expDir, id);
  const metaMtime = mtimeOf(join(dir, "meta.yaml"));
  const readAt = Date.now();
  try {
    const inputs = metas ? readDatasetInputs(expDir, dir, metas) : [];
    const out = outputs ? readRunOutputs(dir) : null;
    return accept(readRun(dir), inputs, out, id, expId, metaMtime, readAt);
  } catch {
    return null; // unreadable or vanished: MLflow skips such directories too
  }
}

async function loadEntryAsync(
  expDir: string,
  id: string,
  expId: string,
  metas: DatasetMetas | null,
  outputs: boolean,
): Promise<Loaded | null> {
  const dir = join(expDir, id);
  try {
    const metaMtime = (await Deno.stat(join(dir, "meta.yaml"))).mtime?.getTime() ?? 0;
    const readAt = Date.now();
    const [run, inputs] = await Promise.all([
      readRunAsync(dir),
      metas ? readDatasetInputsAsync(expDir, dir, metas) : [],
    ]);
    return accept(run, inputs, outputs ? readRunOutputs(dir) : null, id, expId, metaMtime, readAt);
  } catch {
    return null;
  }
}

function accept(
  run: Run,
  inputs: DatasetInput[],
  outputs: RunOutputs | null,
  id: string,
  expId: string,
  metaMtime: number,
  readAt: number,
): Loaded | null {
  if (run.info.runId !== id || run.info.experimentId !== expId) return null;
  if (inputs.length) run.inputs = { datasetInputs: inputs, modelInputs: [] };
  if (outputs?.modelOutputs.length) run.outputs = outputs;
  return { run, metaMtime, readAt, stamp: null };
}

/**
 * Reads `ids` without blocking the event loop for long: chunks of SYNC_CHUNK runs read synchronously while that
 * stays fast (files in the page cache: per-file async operations would cost more than the reads), and once a
 * chunk is slow (the disk), the rest with at most CONCURRENCY runs in flight. Results in the order of `ids`.
 */
async function loadEntriesAsync(
  expDir: string,
  expId: string,
  { ids, metas, outputs }: Plan,
  syncMsPerRun: number,
): Promise<(Loaded | null)[]> {
  const out: (Loaded | null)[] = new Array(ids.length).fill(null);
  let next = 0, yielded = performance.now();
  while (next < ids.length) {
    const t0 = performance.now(), end = Math.min(ids.length, next + SYNC_CHUNK);
    for (; next < end; next++) out[next] = loadEntry(expDir, ids[next], expId, metas, outputs);
    const t1 = performance.now();
    if ((t1 - t0) / SYNC_CHUNK > syncMsPerRun) break;
    if (t1 - yielded > YIELD_MS) await new Promise((r) => setTimeout(r, 0)), yielded = performance.now();
  }
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      out[i] = await loadEntryAsync(expDir, ids[i], expId, metas, outputs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length - next) }, worker));
  return out;
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

/**
 * A cheap stamp of an experiment directory's state as the file store writes it: its mtime (runs added or removed)
 * and its journal's size (every storyteller write). Equal stamps mean no storyteller writer changed anything.
 */
export function changeStamp(expDir: string): string {
  return `${mtimeOf(expDir)}:${journalSize(expDir)}`;
}

/** Runs stamped per slice of the async rolling pass (about 3,300 stats for runs of 20 metrics), between yields. */
const STAMP_SLICE = 128;

/**
 * The async driver's rolling pass: the same share as the sync one, stamped in slices with the event loop let in
 * between (the first slice at once), so a full pass over 10,000 runs never holds requests up for long; what changed
 * waits in `pending` for the next refresh.
 */
async function rollingPassAsync(expDir: string, staleMs: number, foreignMs: number): Promise<boolean> {
  const idx = indexes.get(expDir);
  const now = performance.now();
  if (!idx || idx.stampedAt === 0 || now - idx.stampedAt < staleMs) return false;
  const share = rollingShare(idx, [...idx.entries.keys()], now, foreignMs);
  for (let i = 0; i < share.length; i += STAMP_SLICE) {
    if (i > 0) await new Promise((r) => setTimeout(r, 0));
    const wallNow = Date.now();
    for (const id of share.slice(i, i + STAMP_SLICE)) {
      const e = idx.entries.get(id);
      if (e && !isLive(e, wallNow) && dataChanged(join(expDir, id), e)) idx.pending.add(id);
    }
  }
  return true;
}

/** What a refresh hands back: the live entries (callers must not mutate the runs) and their generation. */
interface Snapshot {
  runs: Iterable<Run>;
  generation: number;
}

/**
 * One refresh of the index of `expDir`: plans what changed (journal, directory listing, sweep), yields the run ids
 * to read, receives what was read (null: not a readable run) and applies it. Both drivers share it.
 */
function* refresh(
  expDir: string,
  staleMs: number,
  foreignMs: number,
  rolled = false,
): Generator<Plan, Snapshot, (Loaded | null)[]> {
  let idx = indexes.get(expDir);
  if (!idx) {
    const saved = readSidecar(expDir);
    idx = {
      // The directory listing is always re-checked after a sidecar load (dirMtime 0 forces it).
      dirMtime: 0,
      journalOffset: saved?.journalOffset ?? journalSize(expDir),
      entries: new Map([...saved?.runs ?? []].map(([id, e]) => [id, { ...e, seq: 0 }])),
      sweptAt: 0,
      stampedAt: 0,
      stampCursor: 0,
      pending: new Set(),
      generation: ++generations,
      datasets: new Map(),
    };
    indexes.set(expDir, idx);
  }
  // 1. the journal first: anything journaled after this point is seen by the next refresh. Journaled ids include
  // runs created within the directory mtime's resolution.
  const j = journalSize(expDir) === idx.journalOffset
    ? { ids: new Set<string>(), offset: idx.journalOffset }
    : readJournal(expDir, idx.journalOffset);
  idx.journalOffset = j.offset;
  const load = j.ids;
  let changed = 0;
  // 2. the run directory listing, when the experiment directory changed (a directory without a readable
  // meta.yaml loads as null: no stat per run here, the read finds out).
  const dirMtime = mtimeOf(expDir);
  if (dirMtime !== idx.dirMtime || dirMtime === 0) {
    const ids = new Set(listDirs(expDir).filter((n) => !RESERVED_IN_EXPERIMENT.has(n)));
    for (const id of idx.entries.keys()) {
      if (!ids.has(id)) idx.entries.delete(id), changed++;
    }
    for (const id of ids) if (!idx.entries.has(id)) load.add(id);
    idx.dirMtime = dirMtime;
  }
  // 3. in a sweep, runs whose meta.yaml changed behind our back (tools that do not journal).
  const now = performance.now();
  if (idx.sweptAt === 0 || now - idx.sweptAt >= staleMs) {
    const wallNow = Date.now();
    for (const [id, e] of idx.entries) {
      if (load.has(id)) continue;
      const mtime = mtimeOf(join(expDir, id, "meta.yaml"));
      // File clocks tick coarsely (a kernel tick, or a second on some filesystems): a rewrite in the same tick as
      // our read keeps the mtime, so a file changed within the last tick-slack is re-read on every sweep.
      if (mtime !== e.metaMtime || wallNow - mtime < MTIME_SLACK_MS) load.add(id);
      // 4. live runs: their metric, param and tag files, on every sweep.
      else if (isLive(e, wallNow) && dataChanged(join(expDir, id), e)) load.add(id);
    }
    idx.sweptAt = now;
    // 5. the rolling pass over the other runs, unless the async driver just did its share (without blocking).
    if (!rolled) {
      for (const id of rollingShare(idx, [...idx.entries.keys()], now, foreignMs)) {
        const e = idx.entries.get(id);
        if (e && !load.has(id) && !isLive(e, wallNow) && dataChanged(join(expDir, id), e)) load.add(id);
      }
    }
  }
  for (const id of idx.pending) load.add(id);
  idx.pending.clear();
  if (load.size > 0) {
    const ids = [...load];
    const seq = ++loadSeq;
    const got = yield {
      ids,
      metas: hasDatasets(expDir) ? idx.datasets : null,
      outputs: isDir(join(expDir, "models")),
    };
    ids.forEach((id, i) => {
      const cur = idx.entries.get(id);
      if (cur && cur.seq > seq) return; // a refresh that started later already read it (sync during async)
      const e = got[i];
      if (e) idx.entries.set(id, { ...e, seq }), changed++;
      else if (cur) idx.entries.delete(id), changed++;
    });
  }
  if (changed > 0) idx.generation = ++generations;
  if (load.size >= SAVE_THRESHOLD) writeSidecar(expDir, idx);
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

/**
 * All readable runs of the experiment whose directory is `expDir`, up to date with every storyteller writer and
 * at most `staleMs` behind other tools' meta.yaml writes and the metric, param and tag files of live runs, at most
 * `foreignMs` behind those of other runs; `generation` changes whenever the set or any run changed.
 * Reads changed runs one by one: for small refreshes and synchronous callers (a cold build of a big experiment
 * wants `experimentIndexAsync`). The returned runs are shared cache objects: callers must not mutate them.
 */
export function experimentIndex(
  expDir: string,
  expId: string,
  staleMs = DEFAULT_STALE_MS,
  foreignMs = DEFAULT_FOREIGN_MS,
): Snapshot {
  const steps = refresh(expDir, staleMs, foreignMs);
  let step = steps.next();
  while (!step.done) {
    const { ids, metas, outputs } = step.value;
    step = steps.next(ids.map((id) => loadEntry(expDir, id, expId, metas, outputs)));
  }
  return step.value;
}

/**
 * `experimentIndex` reading changed runs in parallel (CONCURRENCY runs at a time, their files in parallel), so a
 * cold build of thousands of runs waits on the file system's parallelism, not on one read after another.
 * Refreshes of one experiment run one after another; a synchronous refresh meanwhile sees the runs read so far.
 * `syncMsPerRun`: the mean time per run of a synchronous chunk above which the rest is read in parallel (0: all
 * but the first chunk in parallel).
 */
export async function experimentIndexAsync(
  expDir: string,
  expId: string,
  staleMs = DEFAULT_STALE_MS,
  syncMsPerRun = SYNC_MS_PER_RUN,
  foreignMs = DEFAULT_FOREIGN_MS,
): Promise<Snapshot> {
  while (building.has(expDir)) await building.get(expDir)!.catch(() => {});
  const done = (async () => {
    // The rolling pass runs beside the searches (the changes it finds wait in `pending` for the next refresh), so
    // a search never waits for it; the first pass of an index is the refresh's own.
    const rolled = (indexes.get(expDir)?.stampedAt ?? 0) !== 0;
    if (rolled && !passes.has(expDir)) {
      const pass = rollingPassAsync(expDir, staleMs, foreignMs).finally(() => passes.delete(expDir));
      passes.set(expDir, pass);
    }
    const steps = refresh(expDir, staleMs, foreignMs, rolled);
    let step = steps.next();
    while (!step.done) step = steps.next(await loadEntriesAsync(expDir, expId, step.value, syncMsPerRun));
    return step.value;
  })();
  building.set(expDir, done);
  try {
    return await done;
  } finally {
    if (building.get(expDir) === done) building.delete(expDir);
  }
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
