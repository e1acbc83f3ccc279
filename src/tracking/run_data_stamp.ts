/**
 * A run's data stamp: one stat per metric file, tag file and key directory of a run, folded into a hash, so the
 * run index can tell that another program (real MLflow) wrote to a run without touching its meta.yaml. Not a
 * content hash: metric appends and tag rewrites move a file's mtime and size, a new key moves its directory's mtime
 * (params are immutable, so their directories suffice). Also when a run is live (stamped on every sweep) and
 * how much of a rolling pass over the others is due.
 */
import { join } from "node:path";
import type { Run } from "./types.ts";

/** What a stamp remembers: the hash of every (path, mtime, size) looked at, and the newest mtime among them. */
export interface DataStamp {
  hash: number;
  maxMtime: number;
}

/** FNV-1a over 32-bit words. */
function mix(h: number, x: number): number {
  h ^= x | 0;
  return Math.imul(h, 16777619) >>> 0;
}

/** The run directory, `metrics`, `params`, `tags` (`inputs`, `outputs` when the run has them) and the sub-directories their `/`-keys live in (`metrics/train` for `train/loss`). */
function keyDirs(run: Run): string[] {
  // The run directory itself: an `inputs/` or `outputs/` directory created later moves its mtime; once there, a
  // dataset input or model output logged later moves theirs. (Stat'ing a missing path throws, which costs more than
  // a stat: only what the run has is looked at.)
  const dirs = new Set([".", "metrics", "params", "tags"]);
  if (run.inputs) dirs.add("inputs");
  if (run.outputs) dirs.add("outputs");
  const add = (kind: string, keys: string[]) => {
    for (const key of keys) {
      for (let i = key.indexOf("/"); i > 0; i = key.indexOf("/", i + 1)) {
        dirs.add(`${kind}/${key.slice(0, i)}`);
      }
    }
  };
  add("metrics", Object.keys(run.data.metrics));
  add("params", Object.keys(run.data.params));
  add("tags", Object.keys(run.data.tags));
  return [...dirs];
}

/**
 * The stamp of the files `run` was read from in `runDir`: each key directory, metric file and tag file, stat'ed
 * (a missing one counts as mtime 0, size -1).
 */
export function dataStamp(runDir: string, run: Run): DataStamp {
  let hash = 2166136261, maxMtime = 0;
  const look = (rel: string) => {
    let mtime = 0, size = -1;
    try {
      const st = Deno.statSync(join(runDir, rel));
      mtime = st.mtime?.getTime() ?? 0;
      size = st.size;
    } catch { /* gone: the hash differs from when it existed */ }
    hash = mix(mix(mix(hash, mtime), mtime / 2 ** 32), size);
    if (mtime > maxMtime) maxMtime = mtime;
  };
  for (const d of keyDirs(run)) look(d);
  for (const key of Object.keys(run.data.metrics)) look(`metrics/${key}`);
  for (const key of Object.keys(run.data.tags)) look(`tags/${key}`);
  return { hash, maxMtime };
}

/** A run as the index holds it: read at `readAt` (Date.now() just before the read), stamped just after. */
export interface Stamped {
  run: Run;
  /** null: not stamped since the read (the first check stamps it). */
  stamp: DataStamp | null;
  readAt: number;
}

/** A run whose files changed this recently is stamped on every sweep, as a RUNNING one is. */
const LIVE_MS = 60_000;
/** Coarse file clocks: a file changed this close to a read may hold what the read missed. */
const MTIME_SLACK_MS = 2000;

/** Live runs are stamped on every sweep: RUNNING ones, and ones whose files changed within LIVE_MS. */
export function isLive(e: Stamped, wallNow: number): boolean {
  return e.run.info.status === "RUNNING" || (e.stamp !== null && wallNow - e.stamp.maxMtime < LIVE_MS);
}

/**
 * Whether the metric, param or tag files of the run in `runDir` may have changed since it was read: its stamp
 * moved, or a file changed after the read or so close before it (coarse file clocks) that the read may have missed
 * it. A run not stamped yet is stamped here when nothing changed: any write after its read has a later mtime, so the
 * first stamp need not be taken at the read.
 */
export function dataChanged(runDir: string, e: Stamped): boolean {
  const now = dataStamp(runDir, e.run);
  const changed = (e.stamp !== null && now.hash !== e.stamp.hash) ||
    now.maxMtime >= e.readAt - MTIME_SLACK_MS;
  if (!changed && e.stamp === null) e.stamp = now;
  return changed;
}

/**
 * The next share of a rolling pass over `ids`: the ids after the cursor, as many as keep every run stamped once per
 * `foreignMs` (all of them on the first pass, or after `foreignMs` without a pass). Moves the cursor.
 */
export function rollingShare(
  pass: { stampedAt: number; stampCursor: number },
  ids: string[],
  now: number,
  foreignMs: number,
): string[] {
  const share = pass.stampedAt === 0 ? 1 : Math.min(1, (now - pass.stampedAt) / foreignMs);
  const quota = Math.min(ids.length, Math.ceil(ids.length * share));
  const out: string[] = [];
  for (let k = 0; k < quota; k++) out.push(ids[(pass.stampCursor + k) % ids.length]);
  pass.stampCursor = ids.length ? (pass.stampCursor + quota) % ids.length : 0;
  pass.stampedAt = now;
  return out;
}
