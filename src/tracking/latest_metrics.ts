/**
 * The latest value of a metric file, read incrementally. Metric files only ever grow by whole lines (MLflow's and
 * ours), so a warm read parses just the bytes appended since the last one: a run page polling a run with a
 * million-point history costs a stat, not a re-parse. A file that shrank, was replaced or was rewritten in place is
 * read again from the start.
 */
import { latestOf, parseMetricLines } from "./meta.ts";
import type { Metric } from "./types.ts";
import { readRange, readRangeSync } from "./_fs.ts";

interface Entry {
  size: number;
  mtime: number;
  ino: number | null;
  /** Bytes parsed so far: up to the last complete line. */
  consumed: number;
  latest?: Metric;
}

const cache = new Map<string, Entry>();
/** Files remembered at most; past this the cache starts over (entries are ~100 bytes). */
const MAX_ENTRIES = 200_000;
const decoder = new TextDecoder();
/** Coarse file clocks: a file whose mtime is this recent may still change without its mtime moving. */
const MTIME_SLACK_MS = 2000;
/** Smaller metric files are not cached by the async reader (a re-read is one operation). */
const CACHE_MIN_BYTES = 64 * 1024;

/** The point with the largest (step, timestamp, value) in the metric file at `path`, or undefined when none. */
export function latestMetric(path: string, key: string): Metric | undefined {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch {
    cache.delete(path);
    return undefined;
  }
  const plan = planRead(path, st);
  if (!("from" in plan)) return plan.latest;
  const file = Deno.openSync(path, { read: true });
  try {
    return consume(path, key, st, plan, readRangeSync(file, plan.from, plan.length));
  } finally {
    file.close();
  }
}

/**
 * `latestMetric` with an asynchronous read, sharing its cache: for parallel loads. A file not cached yet is read in
 * one operation; only a big one (≥ CACHE_MIN_BYTES) is then stat-ed and cached (its inode is in memory by then): a
 * small file costs less to read again than to validate. One changed within MTIME_SLACK_MS of that stat, or grown
 * between read and stat, is cached so that the next call reads it again from the start.
 */
export async function latestMetricAsync(path: string, key: string): Promise<Metric | undefined> {
  if (!cache.has(path)) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      return undefined;
    }
    if (bytes.length < CACHE_MIN_BYTES) return latestOf(parseComplete(key, bytes, path));
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(path);
    } catch {
      return undefined;
    }
    const mtime = st.mtime?.getTime() ?? 0;
    const settled = st.size === bytes.length && Date.now() - mtime >= MTIME_SLACK_MS;
    return consume(path, key, { ...st, mtime: settled ? st.mtime : new Date(-1) }, { from: 0 }, bytes);
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    cache.delete(path);
    return undefined;
  }
  try {
    const st = await file.stat();
    const plan = planRead(path, st);
    if (!("from" in plan)) return plan.latest;
    return consume(path, key, st, plan, await readRange(file, plan.from, plan.length));
  } finally {
    file.close();
  }
}

type Plan = { latest: Metric | undefined } | { entry?: Entry; from: number; length: number };

/** What to read of a file with stat `st`: nothing (cache hit), the appended bytes, or all of it. */
function planRead(path: string, st: Deno.FileInfo): Plan {
  const mtime = st.mtime?.getTime() ?? 0;
  let e = cache.get(path);
  if (e && (st.size < e.size || st.ino !== e.ino || (st.size === e.size && mtime !== e.mtime))) e = undefined;
  if (e && st.size === e.size) return { latest: e.latest };
  const from = e?.consumed ?? 0;
  return { entry: e, from, length: Math.max(0, st.size - from) };
}

/** Parses the complete lines of `bytes` (read at `plan.from`) and caches the new latest point. */
function consume(
  path: string,
  key: string,
  st: Deno.FileInfo,
  plan: { entry?: Entry; from: number },
  bytes: Uint8Array,
): Metric | undefined {
  const { entry: e, from } = plan;
  const end = bytes.lastIndexOf(10);
  const fresh = parseComplete(key, bytes, path);
  const latest = latestOf(e?.latest ? [e.latest, ...fresh] : fresh);
  if (cache.size >= MAX_ENTRIES) cache.clear();
  const mtime = st.mtime?.getTime() ?? 0;
  cache.set(path, { size: from + bytes.length, mtime, ino: st.ino, consumed: from + end + 1, latest });
  return latest;
}

/** The points of the complete lines of `bytes`: a line being appended waits for the next read. */
function parseComplete(key: string, bytes: Uint8Array, path: string): Metric[] {
  const end = bytes.lastIndexOf(10);
  return end >= 0 ? parseMetricLines(key, decoder.decode(bytes.subarray(0, end + 1)), path) : [];
}
