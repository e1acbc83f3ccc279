/**
 * One metric over several runs as a uPlot line chart: drag to zoom (re-fetches finer downsampled points for
 * the window), double-click to reset, hover legend values, EMA smoothing, log scale, x = step / wall time /
 * relative time. New data from live runs is swapped in without touching the zoom.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { metricSeries, type SeriesData } from "../lib/api.ts";
import { smoothEma } from "../lib/smooth.ts";
import type { ChartSettings } from "../lib/url_state.ts";
import { formatNumber } from "../lib/format.ts";

export interface ChartRun {
  id: string;
  label: string;
  color: string;
  startTime: number;
}

interface Props {
  metric: string;
  runs: ChartRun[];
  settings: Pick<ChartSettings, "xAxis" | "logScale" | "smoothing">;
  /** Changes when the runs logged more (live updates): data is re-fetched, zoom kept. */
  tick?: number;
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

/** Builds uPlot's aligned data from per-run series (joined on x, gaps as null). */
export function alignSeries(
  series: SeriesData[],
  runs: ChartRun[],
  settings: Props["settings"],
): uPlot.AlignedData {
  const tables: uPlot.AlignedData[] = runs.map((r) => {
    const s = series.find((x) => x.runId === r.id);
    if (!s || s.x.length === 0) return [[], []] as unknown as uPlot.AlignedData;
    const xs = s.x.map((x) => toAxis(x, settings.xAxis, r.startTime));
    let ys: (number | null)[] = smoothEma(s.y, settings.smoothing);
    if (settings.logScale) ys = ys.map((y) => (y !== null && y > 0 ? y : null));
    return [xs, ys] as uPlot.AlignedData;
  });
  if (tables.length === 1) return tables[0];
  return uPlot.join(tables);
}

/** The chart component. */
export function LineChart({ metric, runs, settings, tick = 0, height = 240 }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const range = useRef<Range>(undefined);
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const runKey = runs.map((r) => r.id).join(",");
  const baseStart = runs.length ? Math.min(...runs.map((r) => r.startTime)) : 0;

  async function load(keepScale: boolean) {
    const u = plot.current;
    if (!u || !el.current) return;
    const axis = settings.xAxis === "step" ? "step" : "time";
    const t0 = performance.now();
    let r = range.current;
    if (r && settings.xAxis === "relative") r = undefined; // windows of relative time differ per run
    try {
      const series = await metricSeries(
        runs.map((x) => x.id),
        metric,
        axis,
        el.current.clientWidth || 800,
        r,
      );
      if (plot.current !== u) return;
      const data = alignSeries(series, runs, settings);
      u.setData(data, !keepScale);
      const total = series.reduce((a, s) => a + s.total, 0);
      const shown = series.reduce((a, s) => a + s.x.length, 0);
      setStatus(
        `${shown.toLocaleString()} of ${total.toLocaleString()} points · ${
          Math.round(performance.now() - t0)
        } ms`,
      );
      setError("");
      el.current?.setAttribute("data-rendered", String(Date.now()));
    } catch (err) {
      setError(String((err as Error).message ?? err));
    }
  }

  useEffect(() => {
    if (!el.current) return;
    const axisLabel = settings.xAxis === "step" ? "step" : settings.xAxis === "time" ? "" : "seconds";
    let zoomTimer: ReturnType<typeof setTimeout> | undefined;
    const opts: uPlot.Options = {
      width: el.current.clientWidth || 600,
      height,
      scales: {
        x: { time: settings.xAxis === "time" },
        y: settings.logScale ? { distr: 3 } : {},
      },
      axes: [{ label: axisLabel }, { size: 60, values: (_u, vals) => vals.map((v) => formatNumber(v)) }],
      series: [
        { label: settings.xAxis },
        ...runs.map((r) => ({
          label: r.label,
          stroke: r.color,
          width: 1.5,
          spanGaps: true,
          value: (_u: uPlot, v: number | null) => (v === null ? "–" : formatNumber(v)),
        })),
      ],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: {
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
    const u = new uPlot(opts, [[], ...runs.map(() => [])] as unknown as uPlot.AlignedData, el.current);
    plot.current = u;
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
  }, [metric, runKey, settings.xAxis, settings.logScale, height]);

  // Smoothing and live data only re-fetch; the zoom window stays.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else load(range.current !== undefined);
  }, [tick, settings.smoothing]);

  return (
    <div class="chart">
      <div class="chart-title">
        <b>{metric}</b> <span class="dim">{status}</span>
        {error && <span class="error">{error}</span>}
      </div>
      <div ref={el} class="chart-plot" data-metric={metric} />
    </div>
  );
}
