/** Scatter of two table columns over runs (uPlot, points only); hovering names the run, clicking opens it. */
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { columnLabel, columnValue, numericValue, type Run } from "../lib/runs.ts";
import { formatNumber } from "../lib/format.ts";
import { axisTheme, tickLabels } from "../lib/chart_axes.ts";

interface Props {
  runs: Run[];
  x: string;
  y: string;
  onOpen?: (runId: string) => void;
}

/** Points sorted by x (uPlot's data model), dropping runs where either value is not a number. */
export function scatterPoints(
  runs: Run[],
  x: string,
  y: string,
): { xs: number[]; ys: number[]; ids: string[] } {
  const pts: [number, number, string][] = [];
  for (const r of runs) {
    const a = numericValue(columnValue(r, x)), b = numericValue(columnValue(r, y));
    if (Number.isFinite(a) && Number.isFinite(b)) pts.push([a, b, r.info.runId]);
  }
  pts.sort((p, q) => p[0] - q[0]);
  return { xs: pts.map((p) => p[0]), ys: pts.map((p) => p[1]), ids: pts.map((p) => p[2]) };
}

/** The scatter component. */
export function ScatterChart({ runs, x, y, onOpen }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState("");
  const names = new Map(runs.map((r) => [r.info.runId, r.info.runName || r.info.runId]));
  const { xs, ys, ids } = scatterPoints(runs, x, y);
  const key = `${x}|${y}|${ids.join(",")}|${ys.join(",")}`;

  useEffect(() => {
    if (!el.current) return;
    let hovered = -1;
    const theme = axisTheme();
    const u = new uPlot(
      {
        width: el.current.clientWidth || 500,
        height: 300,
        scales: { x: { time: false } },
        axes: [{
          ...theme,
          label: columnLabel(x),
          // uPlot's own labels round to 3 decimals: learning rates 0.0015 and 0.002 both read 0.002
          values: (_u, v) => tickLabels(el.current, "x", v),
        }, {
          ...theme,
          label: columnLabel(y),
          size: 60,
          values: (_u, v) => tickLabels(el.current, "y", v),
        }],
        series: [{ label: columnLabel(x) }, {
          label: columnLabel(y),
          stroke: "#4e79a7",
          fill: "#4e79a755",
          paths: () => null,
          points: { show: true, size: 7 },
        }],
        legend: { show: false },
        cursor: { drag: { x: true, y: true, uni: 20 }, points: { size: 9 } },
        hooks: {
          setCursor: [(u) => {
            hovered = u.cursor.idx ?? -1;
            const id = hovered >= 0 ? ids[hovered] : undefined;
            setHover(
              id ? `${names.get(id)}: ${formatNumber(xs[hovered])}, ${formatNumber(ys[hovered])}` : "",
            );
          }],
        },
      },
      [xs, ys],
      el.current,
    );
    const click = () => {
      if (hovered >= 0 && onOpen) onOpen(ids[hovered]);
    };
    u.over.addEventListener("click", click);
    return () => u.destroy();
  }, [key]);

  return (
    <div class="chart">
      <div class="chart-title">
        <b>{columnLabel(y)}</b> vs <b>{columnLabel(x)}</b>{" "}
        <span class="dim">{xs.length} runs {hover && `· ${hover}`}</span>
      </div>
      <div ref={el} class="chart-plot" />
    </div>
  );
}
