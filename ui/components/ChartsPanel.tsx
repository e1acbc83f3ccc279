/**
 * Charts over a set of runs: line charts of chosen metrics (overlaid runs), a scatter of any two columns and
 * parallel coordinates of chosen params → a metric. Used by an experiment's Charts tab and by Compare.
 */
import type { ChartSettings } from "../lib/url_state.ts";
import { availableColumns, columnValue, differingParams, metricVersion, type Run } from "../lib/runs.ts";
import { runColor } from "../lib/colors.ts";
import { defaultChartKeys, headlineKeys, orderMetrics } from "../lib/families.ts";
import { LineChart } from "./LineChart.tsx";
import { FamilyChecklist } from "./FamilyChecklist.tsx";
import { ScatterChart } from "./ScatterChart.tsx";
import { ParallelCoords } from "./ParallelCoords.tsx";

interface Props {
  /** Runs drawn in the line charts (each in its own colour, the same on every page). */
  runs: Run[];
  /** Runs used for scatter and parallel coordinates (often more than the line charts). */
  population?: Run[];
  settings: ChartSettings;
  onSettings: (s: ChartSettings) => void;
  onOpen: (runId: string) => void;
  /** Compare's "show only differences": parallel axes whose value is the same for every run are left out. */
  diffOnly?: boolean;
}

/** Parallel-coordinates axes by default: this many params that differ between the runs. */
const PARALLEL_AXES = 6;

/** Whether a column has more than one distinct value over the runs. */
const varies = (runs: Run[], col: string) => new Set(runs.map((r) => String(columnValue(r, col)))).size > 1;

/** Chart controls shared by every line chart: x axis, log scale, smoothing. */
export function ChartControls({ settings, onSettings }: Pick<Props, "settings" | "onSettings">) {
  return (
    <div class="chart-controls">
      <label>
        x axis{" "}
        <select
          value={settings.xAxis}
          onChange={(e) =>
            onSettings({
              ...settings,
              xAxis: (e.target as HTMLSelectElement).value as ChartSettings["xAxis"],
            })}
        >
          <option value="step">step</option>
          <option value="time">wall time</option>
          <option value="relative">relative time</option>
        </select>
      </label>
      <label>
        <input
          type="checkbox"
          checked={settings.logScale}
          onChange={() => onSettings({ ...settings, logScale: !settings.logScale })}
        />{" "}
        log scale
      </label>
      <label>
        smoothing{" "}
        <input
          type="range"
          min="0"
          max="0.99"
          step="0.01"
          value={settings.smoothing}
          onInput={(e) =>
            onSettings({ ...settings, smoothing: Number((e.target as HTMLInputElement).value) })}
        />{" "}
        {settings.smoothing.toFixed(2)}
      </label>
      <span class="dim">drag to zoom · double-click to reset</span>
    </div>
  );
}

function Select({ label, value, options, onChange }: {
  label: string;
  value: string | undefined;
  options: string[];
  onChange: (v: string) => void;
}) {
  return (
    <label>
      {label}{" "}
      <select value={value ?? ""} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        <option value="">—</option>
        {options.map((o) => (
          <option key={o} value={o}>{o.replace(/^(metric|param|tag|attr):/, "")} ({o.split(":")[0]})</option>
        ))}
      </select>
    </label>
  );
}

/** The panel component. */
export function ChartsPanel({ runs, population, settings, onSettings, onOpen, diffOnly }: Props) {
  const pop = population ?? runs;
  const avail = availableColumns(pop);
  const chosen = settings.metrics.filter((k) => avail.metrics.includes(k));
  const metrics = orderMetrics(chosen.length ? chosen : defaultChartKeys(avail.metrics));
  const shown = runs.slice(0, 20);
  const chartRuns = shown.map((r) => ({
    id: r.info.runId,
    label: r.info.runName || r.info.runId.slice(0, 8),
    color: runColor(r.info.runId),
    startTime: r.info.startTime,
  }));
  /** The runs that logged a metric (a dense run has no moe/ line, nor a legend entry). */
  const runsWith = (m: string) => chartRuns.filter((_, i) => shown[i].data.metrics[m] !== undefined);
  const cols = [
    ...avail.metrics.map((k) => `metric:${k}`),
    ...avail.params.map((k) => `param:${k}`),
    "attr:duration",
    "attr:start",
  ];
  // val/loss is what a sweep is judged by; else the headline metric (train/loss first).
  const headline = avail.metrics.includes("val/loss") ? "val/loss" : headlineKeys(avail.metrics, 1)[0];
  const target = settings.target ?? (headline ? `metric:${headline}` : undefined);
  const pcPop = pop.slice(0, 2000);
  const chosenAxes = settings.parallel.length
    ? settings.parallel
    : differingParams(pcPop).slice(0, PARALLEL_AXES).map((k) => `param:${k}`);
  const parallel = diffOnly ? chosenAxes.filter((c) => varies(pcPop, c)) : chosenAxes;
  const toggleMetric = (k: string) =>
    onSettings({
      ...settings,
      metrics: metrics.includes(k) ? metrics.filter((m) => m !== k) : [...metrics, k],
    });
  return (
    <div class="charts-panel">
      <ChartControls settings={settings} onSettings={onSettings} />
      <details class="metric-chooser">
        <summary>Metrics ({metrics.length} of {avail.metrics.length})</summary>
        <FamilyChecklist
          keys={avail.metrics}
          isChosen={(k) => metrics.includes(k)}
          onToggle={toggleMetric}
          onSet={(keys, on) =>
            onSettings({
              ...settings,
              metrics: on ? [...new Set([...metrics, ...keys])] : metrics.filter((m) => !keys.includes(m)),
            })}
        />
      </details>
      {runs.length > 20 && <p class="dim">Line charts show the first 20 of {runs.length} runs.</p>}
      <div class="chart-grid">
        {metrics.map((m) => (
          <LineChart
            key={m}
            metric={m}
            runs={runsWith(m)}
            settings={settings}
            version={metricVersion(shown, [m])}
          />
        ))}
      </div>
      <h3>Scatter</h3>
      <div class="chart-controls">
        <Select
          label="x"
          value={settings.scatterX}
          options={cols}
          onChange={(v) => onSettings({ ...settings, scatterX: v || undefined })}
        />
        <Select
          label="y"
          value={settings.scatterY}
          options={cols}
          onChange={(v) => onSettings({ ...settings, scatterY: v || undefined })}
        />
      </div>
      {settings.scatterX && settings.scatterY
        ? <ScatterChart runs={pop} x={settings.scatterX} y={settings.scatterY} onOpen={onOpen} />
        : <p class="dim">Pick two columns.</p>}
      <h3>Parallel coordinates</h3>
      <div class="chart-controls">
        <details>
          <summary>Axes ({parallel.length})</summary>
          {cols.filter((c) => !c.startsWith("attr:start")).map((c) => (
            <label key={c}>
              <input
                type="checkbox"
                checked={parallel.includes(c)}
                onChange={() =>
                  onSettings({
                    ...settings,
                    parallel: parallel.includes(c) ? parallel.filter((x) => x !== c) : [...parallel, c],
                  })}
              />{" "}
              {c}
            </label>
          ))}
        </details>
        <Select
          label="target"
          value={target}
          options={cols}
          onChange={(v) => onSettings({ ...settings, target: v || undefined })}
        />
      </div>
      {target && parallel.length
        ? <ParallelCoords runs={pcPop} columns={parallel} target={target} onOpen={onOpen} />
        : (
          <p class="dim">
            {pcPop.length > 1 && !chosenAxes.length
              ? "Every param has the same value in these runs: choose axes above."
              : "Choose params and a target metric."}
          </p>
        )}
    </div>
  );
}
