/**
 * Parallel coordinates as plain SVG: one vertical axis per chosen column (numeric or categorical), the target
 * metric last, one polyline per run coloured by the target. Hover highlights a run; click opens it.
 */
import { useState } from "preact/hooks";
import { columnLabel, columnValue, numericValue, type Run } from "../lib/runs.ts";
import { formatNumber } from "../lib/format.ts";

interface Props {
  runs: Run[];
  columns: string[];
  target: string;
  onOpen?: (runId: string) => void;
}

interface Axis {
  id: string;
  /** Position in [0, 1] (0 = bottom) of a run's value, or null when missing. */
  pos: (r: Run) => number | null;
  ticks: { at: number; label: string }[];
}

/** An axis for a column: numeric when every present value parses as a number, else categorical. */
export function buildAxis(runs: Run[], id: string): Axis {
  const vals = runs.map((r) => columnValue(r, id)).filter((v) => v !== undefined);
  const nums = vals.map(numericValue);
  if (vals.length && nums.every(Number.isFinite)) {
    const lo = Math.min(...nums), hi = Math.max(...nums);
    const span = hi - lo || 1;
    return {
      id,
      pos: (r) => {
        const n = numericValue(columnValue(r, id));
        return Number.isFinite(n) ? (n - lo) / span : null;
      },
      ticks: [0, 0.5, 1].map((t) => ({ at: t, label: formatNumber(lo + t * span) })),
    };
  }
  const cats = [...new Set(vals.map(String))].sort();
  const at = (i: number) => (cats.length === 1 ? 0.5 : i / (cats.length - 1));
  return {
    id,
    pos: (r) => {
      const v = columnValue(r, id);
      return v === undefined ? null : at(cats.indexOf(String(v)));
    },
    ticks: cats.slice(0, 20).map((c, i) => ({ at: at(i), label: c })),
  };
}

function colorFor(t: number | null): string {
  if (t === null) return "#bbb";
  // blue (low) → red (high)
  const h = 220 - 220 * t;
  return `hsl(${h}, 70%, 45%)`;
}

/** The parallel-coordinates component. */
export function ParallelCoords({ runs, columns, target, onOpen }: Props) {
  const [hover, setHover] = useState<string | null>(null);
  const ids = [...columns.filter((c) => c !== target), target];
  const axes = ids.map((id) => buildAxis(runs, id));
  const W = Math.max(400, ids.length * 160), H = 300, padX = 60, top = 30, bottom = 30;
  const xAt = (i: number) => padX + (i * (W - 2 * padX)) / Math.max(1, axes.length - 1);
  const yAt = (p: number) => top + (1 - p) * (H - top - bottom);
  const targetAxis = axes[axes.length - 1];
  const hovered = runs.find((r) => r.info.runId === hover);
  return (
    <div class="chart parallel">
      <div class="chart-title">
        <b>Parallel coordinates</b> → {columnLabel(target)}{" "}
        <span class="dim">
          {hovered ? hovered.info.runName || hovered.info.runId : `${runs.length} runs`}
        </span>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" height={H} role="img" aria-label="parallel coordinates">
        {runs.map((r) => {
          const pts = axes.map((a, i) => {
            const p = a.pos(r);
            return p === null ? null : `${xAt(i).toFixed(1)},${yAt(p).toFixed(1)}`;
          });
          if (pts.some((p) => p === null)) return null;
          const id = r.info.runId;
          return (
            <polyline
              key={id}
              points={pts.join(" ")}
              fill="none"
              stroke={colorFor(targetAxis.pos(r))}
              stroke-width={hover === id ? 3 : 1.2}
              opacity={hover && hover !== id ? 0.25 : 0.85}
              onMouseEnter={() => setHover(id)}
              onMouseLeave={() => setHover(null)}
              onClick={() => onOpen?.(id)}
            >
              <title>{r.info.runName || id}</title>
            </polyline>
          );
        })}
        {axes.map((a, i) => (
          <g key={a.id}>
            <line x1={xAt(i)} x2={xAt(i)} y1={top} y2={H - bottom} stroke="#333" />
            <text x={xAt(i)} y={top - 10} text-anchor="middle" class="axis-label">{columnLabel(a.id)}</text>
            {a.ticks.map((t) => (
              <text x={xAt(i) + 4} y={yAt(t.at) + 4} class="tick" key={t.label}>{t.label}</text>
            ))}
          </g>
        ))}
      </svg>
    </div>
  );
}
