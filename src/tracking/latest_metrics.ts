/**
 * The latest value of a metric file, read incrementally. Metric files only ever grow by whole lines (MLflow's and
 * ours), so a warm read parses just the bytes appended since the last one: a run page polling a run with a
 * million-point history costs a stat, not a re-parse. A file that shrank, was replaced or was rewritten in place is
 * read again from the start.
 */
import { latestOf, parseMetricLines } from "./meta.ts";
import type { Metric } from "./types.ts";

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

/** The point with the largest (step, timestamp, value) in the metric file at `path`, or undefined when none. */
export function latestMetric(path: string, key: string): Metric | undefined {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch {
    cache.delete(path);
    return undefined;
  }
  const mtime = st.mtime?.getTime() ?? 0;
  let e = cache.get(path);
  if (e && (st.size < e.size || st.ino !== e.ino || (st.size === e.size && mtime !== e.mtime))) e = undefined;
  if (e && st.size === e.size) return e.latest;
  const from = e?.consumed ?? 0;
  const bytes = readFrom(path, from, st.size - from);
  const end = bytes.lastIndexOf(10); // the last complete line; a line being appended waits for the next read
  const fresh = end >= 0 ? parseMetricLines(key, decoder.decode(bytes.subarray(0, end + 1)), path) : [];
  const latest = latestOf(e?.latest ? [e.latest, ...fresh] : fresh);
  if (cache.size >= MAX_ENTRIES) cache.clear();
  cache.set(path, { size: from + bytes.length, mtime, ino: st.ino, consumed: from + end + 1, latest });
  return latest;
}

function readFrom(path: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, length));
  const file = Deno.openSync(path, { read: true });
  try {
    file.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < out.length) {
      const n = file.readSync(out.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
    return out.subarray(0, got);
  } finally {
    file.close();
  }
}
