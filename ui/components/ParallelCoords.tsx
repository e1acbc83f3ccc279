/**
 * Parallel coordinates as plain SVG: one vertical axis per chosen column (numeric or categorical), the target
 * metric last, one polyline per run coloured by the target (with a colour legend). Drag along an axis to brush a
 * range: runs outside every brush fade out, and the title counts the runs kept; double-click an axis to clear
 * its brush. Hover highlights a run; click opens it. A column with one value is drawn as one tick, not a range.
 */
import { useRef, useState } from "preact/hooks";
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
  /** Numeric axis: the value at a position (for brush labels and the legend). */
  valueAt?: (p: number) => number;
}

/** An axis for a column: numeric when every present value parses as a number, else categorical. */
export function buildAxis(runs: Run[], id: string): Axis {
  const vals = runs.map((r) => columnValue(r, id)).filter((v) => v !== undefined);
  const nums = vals.map(numericValue);
  if (vals.length && nums.every(Number.isFinite)) {
    let lo = Infinity, hi = -Infinity;
    for (const n of nums) {
      if (n < lo) lo = n;
      if (n > hi) hi = n;
    }
    if (lo === hi) {
      // One value: one tick in the middle (not an invented lo–lo+1 range).
      return {
        id,
        pos: (r) => columnValue(r, id) === undefined ? null : 0.5,
        ticks: [{ at: 0.5, label: formatNumber(lo) }],
      };
    }
    const span = hi - lo;
    return {
      id,
      pos: (r) => {
        const n = numericValue(columnValue(r, id));
        return Number.isFinite(n) ? (n - lo) / span : null;
      },
      ticks: [0, 0.5, 1].map((t) => ({ at: t, label: formatNumber(lo + t * span) })),
      valueAt: (p) => lo + p * span,
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

/** Blue (low target) → red (high target); grey when the run has no target value. */
export function colorFor(t: number | null): string {
  if (t === null) return "#bbb";
  const h = 220 - 220 * t;
  return `hsl(${h}, 70%, 45%)`;
}

type Brushes = Record<string, [number, number]>;

/** The parallel-coordinates component. */
export function ParallelCoords({ runs, columns, target, onOpen }: Props) {
  const [hover, setHover] = useState<string | null>(null);
  const [brushes, setBrushes] = useState<Brushes>({});
  const drag = useRef<{ axis: string; from: number } | null>(null);
  const svg = useRef<SVGSVGElement>(null);
  const ids = [...columns.filter((c) => c !== target), target];
  const axes = ids.map((id) => buildAxis(runs, id));
  const W = Math.max(400, ids.length * 160), H = 300, padX = 60, top = 30, bottom = 30;
  const xAt = (i: number) => padX + (i * (W - 2 * padX)) / Math.max(1, axes.length - 1);
  const yAt = (p: number) => top + (1 - p) * (H - top - bottom);
  const targetAxis = axes[axes.length - 1];
  const hovered = runs.find((r) => r.info.runId === hover);
  const live = Object.entries(brushes).filter(([id]) => ids.includes(id));
  const kept = (r: Run) =>
    live.every(([id, [a, b]]) => {
      const p = axes[ids.indexOf(id)].pos(r);
      return p !== null && p >= a && p <= b;
    });
  const nKept = live.length ? runs.filter(kept).length : runs.length;

  /** Position in [0, 1] on an axis of a mouse event. */
  const posOf = (e: MouseEvent) => {
    const el = svg.current;
    const m = el?.getScreenCTM();
    if (!el || !m) return 0;
    const pt = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
    return Math.max(0, Math.min(1, 1 - (pt.y - top) / (H - top - bottom)));
  };
  const onMove = (e: MouseEvent) => {
    const d = drag.current;
    if (!d) return;
    const p = posOf(e);
    setBrushes({ ...brushes, [d.axis]: [Math.min(d.from, p), Math.max(d.from, p)] });
  };
  const onUp = (e: MouseEvent) => {
    const d = drag.current;
    drag.current = null;
    if (d && Math.abs(posOf(e) - d.from) < 0.01) {
      const { [d.axis]: _, ...rest } = brushes;
      setBrushes(rest); // a click without a drag clears that axis's brush
    }
  };
  const lo = targetAxis?.valueAt?.(0), hi = targetAxis?.valueAt?.(1);

  return (
    <div class="chart parallel">
      <div class="chart-title">
        <b>Parallel coordinates</b> → {columnLabel(target)}{" "}
        <span class="dim" data-testid="parallel-count">
          {hovered
            ? hovered.info.runName || hovered.info.runId
            : live.length
            ? `${nKept} of ${runs.length} runs in the brushed ranges`
            : `${runs.length} runs · drag along an axis to filter`}
        </span>
        {live.length > 0 && (
          <button type="button" class="link" onClick={() => setBrushes({})}>clear brushes</button>
        )}
      </div>
      <svg
        ref={svg}
        viewBox={`0 0 ${W} ${H}`}
        width="100%"
        height={H}
        role="img"
        aria-label="parallel coordinates"
        onMouseMove={onMove}
        onMouseUp={onUp}
        onMouseLeave={() => (drag.current = null)}
      >
        {runs.map((r) => {
          const pts = axes.map((a, i) => {
            const p = a.pos(r);
            return p === null ? null : `${xAt(i).toFixed(1)},${yAt(p).toFixed(1)}`;
          });
          if (pts.some((p) => p === null)) return null;
          const id = r.info.runId;
          const on = !live.length || kept(r);
          return (
            <polyline
              key={id}
              points={pts.join(" ")}
              fill="none"
              class={on ? "kept" : "brushed-out"}
              stroke={on ? colorFor(targetAxis.pos(r)) : "#8884"}
              stroke-width={hover === id ? 3 : 1.2}
              opacity={hover && hover !== id ? 0.25 : on ? 0.85 : 0.3}
              onMouseEnter={() => setHover(id)}
              onMouseLeave={() => setHover(null)}
              onClick={() => onOpen?.(id)}
            >
              <title>{r.info.runName || id}</title>
            </polyline>
          );
        })}
        {axes.map((a, i) => {
          const b = brushes[a.id];
          return (
            <g key={a.id} data-axis={a.id}>
              <line x1={xAt(i)} x2={xAt(i)} y1={top} y2={H - bottom} class="axis-line" />
              <text x={xAt(i)} y={top - 10} text-anchor="middle" class="axis-label">{columnLabel(a.id)}</text>
              {a.ticks.map((t) => (
                <text x={xAt(i) + 4} y={yAt(t.at) + 4} class="tick" key={t.label}>{t.label}</text>
              ))}
              {b && (
                <rect
                  class="brush"
                  x={xAt(i) - 8}
                  width={16}
                  y={yAt(b[1])}
                  height={Math.max(1, yAt(b[0]) - yAt(b[1]))}
                />
              )}
              <rect
                class="brush-area"
                x={xAt(i) - 12}
                width={24}
                y={top}
                height={H - top - bottom}
                fill="transparent"
                onMouseDown={(e) => {
                  e.preventDefault();
                  drag.current = { axis: a.id, from: posOf(e) };
                }}
              />
            </g>
          );
        })}
      </svg>
      {lo !== undefined && hi !== undefined && (
        <div class="pc-legend" data-testid="parallel-legend">
          <span>{formatNumber(lo)}</span>
          <span class="pc-gradient" />
          <span>{formatNumber(hi)}</span>
          <span class="dim">{columnLabel(target)} (line colour)</span>
        </div>
      )}
    </div>
  );
}
