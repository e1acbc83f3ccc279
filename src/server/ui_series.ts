/**
 * `GET /api/storyteller/metric-series`: downsampled metric histories for charts (M4 buckets per pixel column
 * over an optional x window, so zooming re-fetches detail). Histories from a FileStore are parsed once into
 * columns and then only their appended tail is read, so live runs and million-point metrics stay cheap.
 */
import { Hono } from "hono";
import { join } from "node:path";
import {
  FileStore,
  malformedMetricLine,
  parseMetricInt,
  parsePyFloat,
  readRange,
  type TrackingClient,
  TrackingError,
  validateKey,
} from "../tracking/mod.ts";
import { downsampleM4, type Series, sortByX } from "./ui_downsample.ts";

/** Columns of one metric history in file order, growing as the run logs more. */
interface History {
  n: number;
  step: Float64Array;
  time: Float64Array;
  value: Float64Array;
  /** Bytes of the metric file consumed (complete lines only). */
  offset: number;
  /** Lines consumed (blank ones included): numbers the line an error names. */
  lines: number;
  mtime: number;
  /** Inode of the file read (null where the platform has none): a replaced file is read again from the start. */
  ino: number | null;
  sorted: Partial<Record<"step" | "time", { n: number; s: Series }>>;
  /** Points counted against the cache bound when it was last remembered. */
  weight: number;
}

const MAX_CACHED_POINTS = 20_000_000;

/** Parsed-history cache, bounded by total points (least recently used dropped first). */
export class SeriesCache {
  #entries = new Map<string, History>();
  #points = 0;

  /** The history of (run, key): from the metric file for a FileStore, else via getMetricHistory. */
  async history(client: TrackingClient, runId: string, key: string): Promise<History> {
    validateKey("metric", key);
    if (!(client instanceof FileStore)) return fromMetrics(await client.getMetricHistory(runId, key));
    const path = join(client.locateRun(runId).runDir, "metrics", key);
    const id = `${runId}\0${key}`;
    let h = this.#entries.get(id);
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(path);
    } catch {
      return emptyHistory(); // never logged (yet): an empty history, as MLflow's get-history answers
    }
    const mtime = stat.mtime?.getTime() ?? 0;
    const replaced = h !== undefined && (stat.ino ?? null) !== h.ino;
    if (h && (replaced || stat.size < h.offset || (stat.size === h.offset && mtime !== h.mtime))) {
      h = undefined;
    }
    if (!h) h = emptyHistory();
    if (stat.size > h.offset) await readTail(path, key, h, stat.size);
    h.mtime = mtime;
    h.ino = stat.ino ?? null;
    this.#remember(id, h);
    return h;
  }

  /** Keeps `h`, counting its capacity (what it holds in memory, ≥ 1024 points even when nearly empty). */
  #remember(id: string, h: History): void {
    const old = this.#entries.get(id);
    if (old) this.#points -= old.weight;
    this.#entries.delete(id);
    h.weight = h.step.length;
    this.#entries.set(id, h);
    this.#points += h.weight;
    for (const [k, e] of this.#entries) {
      if (this.#points <= MAX_CACHED_POINTS || k === id) break;
      this.#entries.delete(k);
      this.#points -= e.weight;
    }
  }
}

function emptyHistory(): History {
  const cap = 1024;
  return {
    n: 0,
    step: new Float64Array(cap),
    time: new Float64Array(cap),
    value: new Float64Array(cap),
    offset: 0,
    lines: 0,
    weight: 0,
    mtime: 0,
    ino: null,
    sorted: {},
  };
}

function fromMetrics(ms: { step: number; timestamp: number; value: number }[]): History {
  const h = emptyHistory();
  h.n = ms.length;
  h.step = Float64Array.from(ms, (m) => m.step);
  h.time = Float64Array.from(ms, (m) => m.timestamp);
  h.value = Float64Array.from(ms, (m) => m.value);
  return h;
}

function grow(h: History, need: number): void {
  if (need <= h.step.length) return;
  const cap = Math.max(need, h.step.length * 2);
  for (const k of ["step", "time", "value"] as const) {
    const a = new Float64Array(cap);
    a.set(h[k].subarray(0, h.n));
    h[k] = a;
  }
}

/**
 * Reads `[h.offset, size)` and appends its complete `timestamp value step` lines (2, 3 or 5 fields, as MLflow
 * reads them). A half-written last line waits for the next read; any other malformed line is an INTERNAL_ERROR
 * naming its line number (never its content), as get-history answers: no line is skipped or charted rounded.
 */
async function readTail(path: string, key: string, h: History, size: number): Promise<void> {
  const file = await Deno.open(path, { read: true });
  let bytes: Uint8Array;
  try {
    bytes = await readRange(file, h.offset, size - h.offset);
  } finally {
    file.close();
  }
  const end = bytes.lastIndexOf(10) + 1;
  const text = new TextDecoder().decode(bytes.subarray(0, end));
  grow(h, h.n + countLines(bytes, end));
  let pos = 0, n = h.n, lines = h.lines;
  while (pos < text.length) {
    const nl = text.indexOf("\n", pos);
    lines++;
    if (nl > pos) {
      // Fields found with indexOf, not split(): no array per line on million-line histories.
      const s = spaces(text, pos, nl);
      const fields = s.length + 1;
      const time = parseMetricInt(text.slice(pos, s[0] ?? nl));
      const value = fields === 2 || fields === 3 || fields === 5
        ? floatOrNull(text.slice(s[0] + 1, s[1] ?? nl))
        : null;
      const step = fields >= 3 ? parseMetricInt(text.slice(s[1] + 1, s[2] ?? nl)) : 0;
      if (value === null || Number.isNaN(time) || Number.isNaN(step)) {
        throw malformedMetricLine(key, path, lines, "<timestamp> <value> <step>");
      }
      h.time[n] = time;
      h.value[n] = value;
      h.step[n] = step;
      n++;
    }
    pos = nl + 1;
  }
  // Committed only once the whole tail parsed: a failed read leaves the history as it was.
  h.n = n;
  h.lines = lines;
  h.offset += end;
  h.sorted = {};
}

/** Positions of the spaces in `text[from, to)` (at most 5: a line with more is malformed anyway). */
function spaces(text: string, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = text.indexOf(" ", from); i >= 0 && i < to && out.length < 5; i = text.indexOf(" ", i + 1)) {
    out.push(i);
  }
  return out;
}

const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?(?:e[-+]?\d+)?$/;

/** A metric value (`nan`, `inf` included), or null when the field is not a number. */
function floatOrNull(s: string): number | null {
  if (PLAIN_DECIMAL.test(s)) return Number(s); // what writers write: skips parsePyFloat's spellings
  try {
    return parsePyFloat(s);
  } catch {
    return null;
  }
}

function countLines(bytes: Uint8Array, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === 10) n++;
  return n;
}

/** The history sorted along an x axis (cached until the history grows). */
export function sortedSeries(h: History, axis: "step" | "time"): Series {
  const c = h.sorted[axis];
  if (c && c.n === h.n) return c.s;
  const s = sortByX(h[axis].subarray(0, h.n), h.value.subarray(0, h.n));
  h.sorted[axis] = { n: h.n, s };
  return s;
}

function optionalNumber(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) {
    throw new TrackingError("INVALID_PARAMETER_VALUE", `Cannot read ${name}: '${v}' is not a number`);
  }
  return n;
}

/**
 * The series routes. Query: `run_id` (repeatable or comma-separated), `key`, `x` = step | time, `points`
 * (buckets, default 1000, at most 10000), `min` / `max` (x window). Non-finite values come back as null (gaps).
 */
export function seriesApp(client: TrackingClient, cache = new SeriesCache()): Hono {
  const app = new Hono();
  app.get("/api/storyteller/metric-series", async (c) => {
    const runIds = c.req.queries("run_id")?.flatMap((s) => s.split(",")).filter((s) => s) ?? [];
    const key = c.req.query("key") ?? "";
    if (runIds.length === 0 || key === "") {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        "Cannot fetch a metric series: run_id and key are required",
        { hint: "GET /api/storyteller/metric-series?run_id=<id>&key=<metric>" },
      );
    }
    const axis = c.req.query("x") === "time" ? "time" : "step";
    const points = Math.min(10_000, Math.max(1, optionalNumber(c.req.query("points"), "points") ?? 1000));
    const min = optionalNumber(c.req.query("min"), "min");
    const max = optionalNumber(c.req.query("max"), "max");
    const series = await Promise.all(runIds.map(async (runId) => {
      const h = await cache.history(client, runId, key);
      const d = downsampleM4(sortedSeries(h, axis), points, min, max);
      return {
        run_id: runId,
        key,
        x: d.x,
        y: d.y.map((v) => (Number.isFinite(v) ? v : null)),
        total: d.total,
        in_range: d.inRange,
        x_min: d.xMin,
        x_max: d.xMax,
      };
    }));
    return c.json({ x_axis: axis, series });
  });
  return app;
}
