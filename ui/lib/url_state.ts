/**
 * View state in the URL hash (`#/experiments/1?q=…&sort=…&sel=…`), so any view can be shared or bookmarked.
 * Pure parse/format of routes and their parameters; the app reads it on `hashchange` and writes it with
 * `history.replaceState` (no page reload, no history spam while typing).
 */
import { ALL, formatSelection, readSelection } from "./selection.ts";

/** A parsed hash: path segments (decoded) and parameters. */
export interface Location {
  path: string[];
  params: Record<string, string>;
}

/** Parses `#/a/b?x=1&y=2` (a leading `#` and `/` are optional). */
export function parseHash(hash: string): Location {
  const h = hash.replace(/^#/, "");
  const q = h.indexOf("?");
  const pathPart = q < 0 ? h : h.slice(0, q);
  const query = q < 0 ? "" : h.slice(q + 1);
  const path = pathPart.split("/").filter((s) => s !== "").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(query)) params[k] = v;
  return { path, params };
}

/** Formats a location; empty and undefined parameters are left out, the rest keep their insertion order. */
export function formatHash(path: string[], params: Record<string, string | undefined> = {}): string {
  const p = "#/" + path.map(encodeURIComponent).join("/");
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") sp.set(k, v);
  const qs = sp.toString();
  return qs ? `${p}?${qs}` : p;
}

/** A comma list parameter (`sel=a,b`); commas inside items are escaped as `%2C` by URLSearchParams. */
export function listParam(v: string | undefined): string[] {
  if (!v) return [];
  return v.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => s.replaceAll("%2C", ","));
}

/** The inverse of listParam. */
export function formatList(items: readonly string[]): string | undefined {
  return items.length ? items.map((s) => s.replaceAll(",", "%2C")).join(",") : undefined;
}

/** The experiment view's state (the runs table and its charts). */
export interface ExperimentView {
  experimentIds: string[];
  filter: string;
  /** Column id (`metric:loss`, `attr:start`…) and direction. */
  sort: { column: string; descending: boolean };
  columns: string[];
  selected: string[];
  /** Every run matching the filter is selected (`sel=*`), however many there are. */
  selectAll: boolean;
  tab: "table" | "charts";
  showDeleted: boolean;
  chart: ChartSettings;
}

/** Chart settings shared by the run page, compare and the experiment's charts. */
export interface ChartSettings {
  metrics: string[];
  xAxis: "step" | "time" | "relative";
  logScale: boolean;
  /** EMA smoothing weight in [0, 0.99]. */
  smoothing: number;
  /** Scatter / parallel coordinates columns. */
  scatterX?: string;
  scatterY?: string;
  parallel: string[];
  target?: string;
}

const X_AXES = ["step", "time", "relative"] as const;

/** Chart settings from parameters (unknown or malformed values fall back to defaults). */
export function readChart(p: Record<string, string>): ChartSettings {
  const smoothing = Number(p.smooth ?? 0);
  return {
    metrics: listParam(p.m),
    xAxis: (X_AXES as readonly string[]).includes(p.x) ? p.x as ChartSettings["xAxis"] : "step",
    logScale: p.log === "1",
    smoothing: Number.isFinite(smoothing) ? Math.min(0.99, Math.max(0, smoothing)) : 0,
    scatterX: p.sx || undefined,
    scatterY: p.sy || undefined,
    parallel: listParam(p.pc),
    target: p.pt || undefined,
  };
}

/** Parameters for chart settings (defaults left out). */
export function writeChart(c: ChartSettings): Record<string, string | undefined> {
  return {
    m: formatList(c.metrics),
    x: c.xAxis === "step" ? undefined : c.xAxis,
    log: c.logScale ? "1" : undefined,
    smooth: c.smoothing ? String(c.smoothing) : undefined,
    sx: c.scatterX,
    sy: c.scatterY,
    pc: formatList(c.parallel),
    pt: c.target,
  };
}

/** The experiment view from a location whose path is `experiments/<id,id…>`. */
export function readExperimentView(loc: Location): ExperimentView {
  const p = loc.params;
  const sort = p.sort ?? "";
  const descending = !sort.startsWith("+");
  const column = sort.replace(/^[+-]/, "") || "attr:start";
  return {
    experimentIds: listParam(loc.path[1]),
    filter: p.q ?? "",
    sort: { column, descending },
    columns: listParam(p.cols),
    selected: readSelection(p.sel),
    selectAll: p.sel === ALL,
    tab: p.tab === "charts" ? "charts" : "table",
    showDeleted: p.deleted === "1",
    chart: readChart(p),
  };
}

/** The hash for an experiment view. */
export function formatExperimentView(v: ExperimentView): string {
  const sortDefault = v.sort.column === "attr:start" && v.sort.descending;
  return formatHash(["experiments", v.experimentIds.join(",")], {
    q: v.filter,
    sort: sortDefault ? undefined : `${v.sort.descending ? "-" : "+"}${v.sort.column}`,
    cols: formatList(v.columns),
    sel: v.selectAll ? ALL : formatSelection(v.selected),
    tab: v.tab === "table" ? undefined : v.tab,
    deleted: v.showDeleted ? "1" : undefined,
    ...writeChart(v.chart),
  });
}
