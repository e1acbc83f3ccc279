/**
 * Axis helpers shared by the uPlot charts: tick labels (blank for the splits a log axis leaves unlabelled, no
 * repeats), and colours from the page's CSS variables so the axes follow dark mode.
 */
import { formatNumber } from "./format.ts";

/**
 * Tick labels for uPlot splits: null splits (a log axis's unlabelled ones) blank, and enough significant digits
 * that neighbouring ticks differ (0.0015 and 0.002, not 0.002 twice). The labels are also written to the chart
 * element's `data-<axis>-ticks` (tests read them; the axes are canvas).
 */
export function tickLabels(el: HTMLElement | null, axis: "x" | "y", vals: (number | null)[]): string[] {
  let labels: string[] = [];
  for (let digits = 3; digits <= 12; digits++) {
    labels = vals.map((v) => (v === null || v === undefined ? "" : formatTick(v, digits)));
    const shown = labels.filter((l) => l !== "");
    if (new Set(shown).size === shown.length) break;
  }
  el?.setAttribute(`data-${axis}-ticks`, labels.join("|"));
  return labels;
}

function formatTick(v: number, digits: number): string {
  if (!Number.isFinite(v) || Number.isInteger(v) || digits <= 5) {
    const f = formatNumber(v);
    if (digits <= 5 || f.length <= digits) return f;
  }
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(Math.max(0, digits - 1));
  return String(Number(v.toPrecision(digits)));
}

/** Axis stroke (labels) and grid colours for uPlot from the CSS variables `--fg` and `--grid`. */
export function axisTheme(): {
  stroke: string;
  grid: { stroke: string; width: number };
  ticks: { stroke: string; width: number };
} {
  const css = globalThis.getComputedStyle?.(document.documentElement);
  const fg = css?.getPropertyValue("--fg").trim() || "#1d2330";
  const grid = css?.getPropertyValue("--grid").trim() || "#0001";
  return { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
}
