/**
 * One metric over several runs (or several metrics of one run, e.g. a MoE layer's expert fractions) as a uPlot
 * line chart: drag to zoom (re-fetches finer downsampled points for the window), double-click to reset, hover
 * legend values, EMA smoothing, log scale, x = step / wall time / relative time, an optional dashed reference
 * line. New data from live runs is swapped in without touching the zoom.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { metricSeries, type SeriesData } from "../lib/api.ts";
import { smoothEma } from "../lib/smooth.ts";
import type { ChartSettings } from "../lib/url_state.ts";
import { formatNumber } from "../lib/format.ts";
import { axisTheme, tickLabels } from "../lib/chart_axes.ts";

export interface ChartRun {
  id: string;
  label: string;
  color: string;
  startTime: number;
}

/** One drawn line: a metric of a run. */
export interface ChartLine extends ChartRun {
  key: string;
}

interface Props {
  /** The chart's title and `data-metric`; the metric of every line unless `lines` says otherwise. */
  metric: string;
  runs: ChartRun[];
  /** Lines to draw instead of `metric` of each run (keys may differ). */
  lines?: ChartLine[];
  /** A dashed horizontal line, e.g. the even share of a MoE layer's experts. */
  reference?: { value: number; label: string };
  /** The y axis starts at 0 (shares, so a 2× share looks 2× as high). */
  fromZero?: boolean;
  settings: Pick<ChartSettings, "xAxis" | "logScale" | "smoothing">;
  /** Changes when the lines' runs logged more (metricVersion): data is re-fetched, zoom kept. */
  version?: string;
  height?: number;
}

type Range = { min: number; max: number } | undefined;

/** x value on the chart's axis from a server x (step, or timestamp in ms). */
function toAxis(x: number, axis: ChartSettings["xAxis"], start: number): number {
  if (axis === "time") return x / 1000;
  if (axis === "relative") return (x - start) / 1000;
  return x;
}

function fromAxis(v: number, axis: ChartSettings["xAxis"], start: number): number {
  if (axis === "time") return v * 1000;
  if (axis === "relative") return v * 1000 + start;
  return v;
}

/** Builds uPlot's aligned data from per-line series (joined on x, gaps as null), the reference line last. */
export function alignSeries(
  series: SeriesData[],
  lines: ChartLine[],
  settings: Props["settings"],
  reference?: number,
): uPlot.AlignedData {
  const tables: uPlot.AlignedData[] = lines.map((r) => {
    const s = series.find((x) => x.runId === r.id && x.key === r.key);
    if (!s || s.x.length === 0) return [[], []] as unknown as uPlot.AlignedData;
    const xs = s.x.map((x) => toAxis(x, settings.xAxis, r.startTime));
    let ys: (number | null)[] = smoothEma(s.y, settings.smoothing);
    if (settings.logScale) ys = ys.map((y) => (y !== null && y > 0 ? y : null));
    return [xs, ys] as uPlot.AlignedData;
  });
  const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
  if (reference === undefined) return data;
  return [...data, (data[0] as number[]).map(() => reference)] as uPlot.AlignedData;
}

/** The y range: uPlot's, except a flat series gets a small band around its value instead of 0–100 or 0–100,000. */
export function yRange(min: number, max: number, fromZero = false): [number, number] {
  if (fromZero && min >= 0) return [0, max > 0 ? max * 1.15 : 1];
  if (min === max) {
    const pad = Math.abs(min) * 0.05 || 1;
    return [min - pad, max + pad];
  }
  return uPlot.rangeNum(min, max, 0.1, true) as [number, number];
}

/**
 * The x range: uPlot's, except that data at a single x (one logged point) gets ±1 around it, where uPlot would
 * span 0–100 (or 0–100,000 for step 50,000).
 */
export function xRange(min: number, max: number, xs?: ArrayLike<number | null>): [number, number] {
  const first = xs?.length ? xs[0] : null, last = xs?.length ? xs[xs.length - 1] : null;
  if (first !== null && first === last) return [first - 1, first + 1];
  return min === max ? [min - 1, max + 1] : [min, max];
}

/** Points and load time in chart titles only when asked (`localStorage.storytellerDebug = 1`); always in a tooltip. */
const debugCharts = () => {
  try {
    return !!globalThis.localStorage?.getItem("storytellerDebug");
  } catch {
    return false;
  }
};

/** Width of the y axis for its tick labels (so 0.011175 is not cut off). */
const axisWidth = (values: string[] | undefined) =>
  Math.max(48, Math.max(0, ...(values ?? []).map((v) => v.length)) * 7.5 + 26);

/** The chart component. */
export function LineChart(
  { metric, runs, lines: given, reference, fromZero, settings, version = "", height = 240 }: Props,
) {
  const lines = given ?? runs.map((r) => ({ ...r, key: metric }));
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const range = useRef<Range>(undefined);
  const loaded = useRef(false);
  /** The series last fetched: smoothing is applied to them again without a request. */
  const fetched = useRef<SeriesData[] | null>(null);
  /** The settings of the latest render: loads started by uPlot's hooks (zoom, reset) must not use stale ones. */
  const current = useRef(settings);
  current.current = settings;
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const runKey = lines.map((r) => `${r.id}\0${r.key}`).join(",") + `\0${reference?.value}`;
  const baseStart = lines.length ? Math.min(...lines.map((r) => r.startTime)) : 0;

  async function load(keepScale: boolean) {
    const u = plot.current;
    if (!u || !el.current) return;
    const axis = settings.xAxis === "step" ? "step" : "time";
    const t0 = performance.now();
    let r = range.current;
    if (r && settings.xAxis === "relative") r = undefined; // windows of relative time differ per run
    try {
      const keys = [...new Set(lines.map((l) => l.key))];
      const width = el.current.clientWidth || 800;
      const series = (await Promise.all(keys.map((k) =>
        metricSeries(
          [
            ...new Set(
              lines.filter((l) => l.key === k).map((l) => l.id),
            ),
          ],
          k,
          axis,
          width,
          r,
        )
      ))).flat();
      if (plot.current !== u) return;
      fetched.current = series;
      const data = alignSeries(series, lines, current.current, reference?.value);
      u.setData(data, !keepScale);
      const total = series.reduce((a, s) => a + s.total, 0);
      const shown = series.reduce((a, s) => a + s.x.length, 0);
      setStatus(
        `${shown.toLocaleString()} of ${total.toLocaleString()} points · ${
          Math.round(performance.now() - t0)
        } ms`,
      );
      setError("");
      loaded.current = true; // the draw hook marks the element once this data is on the canvas
    } catch (err) {
      setError(String((err as Error).message ?? err));
    }
  }

  useEffect(() => {
    if (!el.current) return;
    const axisLabel = settings.xAxis === "step" ? "step" : settings.xAxis === "time" ? "" : "seconds";
    let zoomTimer: ReturnType<typeof setTimeout> | undefined;
    const theme = axisTheme();
    const opts: uPlot.Options = {
      width: el.current.clientWidth || 600,
      height,
      scales: {
        x: { time: settings.xAxis === "time", range: (u, min, max) => xRange(min, max, u.data?.[0]) },
        y: settings.logScale ? { distr: 3 } : { range: (_u, min, max) => yRange(min, max, fromZero) },
      },
      axes: [{ label: axisLabel, ...theme }, {
        ...theme,
        size: (_u, values) => axisWidth(values),
        // A log axis leaves the splits it does not label as null: blank, not "-Inf".
        values: (_u, vals) => tickLabels(el.current, "y", vals),
      }],
      series: [
        { label: settings.xAxis },
        ...lines.map((r) => ({
          label: r.label,
          stroke: r.color,
          width: 1.5,
          spanGaps: true,
          value: (_u: uPlot, v: number | null) => (v === null ? "–" : formatNumber(v)),
        })),
        ...(reference
          ? [{ label: reference.label, stroke: "#888", width: 1, dash: [4, 4], points: { show: false } }]
          : []),
      ],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: {
        // After a load is drawn: `data-rendered`, and the scales as drawn (tests read them; axes are canvas).
        draw: [(u) => {
          const e = el.current;
          if (!loaded.current || !e) return;
          e.setAttribute("data-x-range", `${u.scales.x.min},${u.scales.x.max}`);
          e.setAttribute("data-y-range", `${u.scales.y.min},${u.scales.y.max}`);
          // What the first line draws, summed: changes with smoothing (tests compare it; the canvas is opaque).
          const ys = (u.data[1] ?? []) as (number | null)[];
          e.setAttribute("data-y-sum", String(ys.reduce((a: number, y) => a + (y ?? 0), 0)));
          e.setAttribute("data-rendered", String(Date.now()));
        }],
        setSelect: [(u) => {
          if (u.select.width < 3) return;
          const min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
          range.current = {
            min: fromAxis(min, settings.xAxis, baseStart),
            max: fromAxis(max, settings.xAxis, baseStart),
          };
          clearTimeout(zoomTimer);
          zoomTimer = setTimeout(() => load(true), 60);
        }],
      },
    };
    const empty = [[], ...lines.map(() => []), ...(reference ? [[]] : [])];
    const u = new uPlot(opts, empty as unknown as uPlot.AlignedData, el.current);
    plot.current = u;
    loaded.current = false;
    // Double-click resets uPlot's zoom; fetch the whole series again at the coarse resolution.
    const reset = () => {
      range.current = undefined;
      load(false);
    };
    u.over.addEventListener("dblclick", reset);
    const ro = new ResizeObserver(() => {
      if (el.current && Math.abs(u.width - el.current.clientWidth) > 2) {
        u.setSize({ width: el.current.clientWidth, height });
      }
    });
    ro.observe(el.current);
    range.current = undefined;
    load(false);
    return () => {
      ro.disconnect();
      clearTimeout(zoomTimer);
      u.destroy();
      if (plot.current === u) plot.current = null;
    };
  }, [metric, runKey, settings.xAxis, settings.logScale, height, fromZero]);

  // New points re-fetch; smoothing re-draws what was fetched. The zoom window stays either way.
  const firstVersion = useRef(true);
  useEffect(() => {
    if (firstVersion.current) firstVersion.current = false;
    else load(range.current !== undefined);
  }, [version]);
  const firstSmoothing = useRef(true);
  useEffect(() => {
    if (firstSmoothing.current) firstSmoothing.current = false;
    else if (plot.current && fetched.current) {
      // Zoomed: keep the window (setData would reset it), just swap the smoothed values in.
      const u = plot.current;
      const zoom = range.current !== undefined ? { min: u.scales.x.min!, max: u.scales.x.max! } : null;
      u.setData(alignSeries(fetched.current, lines, settings, reference?.value), zoom === null);
      if (zoom) u.setScale("x", zoom);
    }
  }, [settings.smoothing]);

  return (
    <div class="chart">
      <div class="chart-title" title={status}>
        <b>{metric}</b> {debugCharts() && <span class="dim chart-status">{status}</span>}
        {error && <span class="error">{error}</span>}
      </div>
      <div ref={el} class="chart-plot" data-metric={metric} data-status={status} />
    </div>
  );
}
