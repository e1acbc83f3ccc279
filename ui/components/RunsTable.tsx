/**
 * The virtualised runs table: fixed 28 px rows, only the rows on screen (plus overscan) are in the DOM, spacer
 * rows keep the scrollbar honest — 10,000 runs scroll like 30. The checkbox and name columns stay put when the
 * table scrolls sideways; each name has its run's colour swatch (the colour its lines have in every chart).
 * Click a header to sort; arrow keys move the cursor row, Space selects it, Enter opens it.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { runColor } from "../lib/colors.ts";
import { columnLabel, columnValue, type Run, runDuration } from "../lib/runs.ts";
import { rowWindow, scrollToRow } from "../lib/virtual.ts";
import { formatDuration, formatNumber, formatTime } from "../lib/format.ts";

/** Row height in px (must match `.runs-table tr` in styles.css). */
export const ROW_HEIGHT = 28;

interface Props {
  runs: Run[];
  columns: string[];
  sort: { column: string; descending: boolean };
  selected: Set<string>;
  onSort: (column: string) => void;
  onToggle: (runId: string, range?: boolean) => void;
  onToggleAll: () => void;
  onOpen: (runId: string) => void;
  /** Shown instead of "No runs match." when there are no runs at all. */
  empty?: ComponentChildren;
}

const FIXED = ["attr:name", "attr:status", "attr:start", "attr:duration"];

function cell(r: Run, col: string, now: number): string {
  if (col === "attr:start") return formatTime(r.info.startTime);
  if (col === "attr:duration") return formatDuration(runDuration(r, now));
  const v = columnValue(r, col, now);
  return typeof v === "number" ? formatNumber(v) : v ?? "";
}

/** The table component. */
export function RunsTable(props: Props) {
  const { runs, sort, selected } = props;
  const columns = [...FIXED, ...props.columns.filter((c) => !FIXED.includes(c))];
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [cursor, setCursor] = useState(0);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    // Never more than a screenful, even if a layout bug lets the scroller grow to its content.
    const measure = () => setHeight(Math.min(el.clientHeight, innerHeight));
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    measure();
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    if (cursor >= runs.length) setCursor(Math.max(0, runs.length - 1));
  }, [runs.length]);

  const w = rowWindow(scrollTop, height - ROW_HEIGHT, ROW_HEIGHT, runs.length, 15);
  const now = Date.now();
  const allSelected = runs.length > 0 && runs.every((r) => selected.has(r.info.runId));

  function move(to: number) {
    const i = Math.max(0, Math.min(runs.length - 1, to));
    setCursor(i);
    const el = scroller.current;
    if (el) el.scrollTop = scrollToRow(i, el.scrollTop, el.clientHeight - ROW_HEIGHT, ROW_HEIGHT);
  }

  function onKey(e: KeyboardEvent) {
    if ((e.target as HTMLElement).tagName === "INPUT") return;
    const page = Math.max(1, Math.floor(height / ROW_HEIGHT) - 2);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(cursor + 1),
      ArrowUp: () => move(cursor - 1),
      PageDown: () => move(cursor + page),
      PageUp: () => move(cursor - page),
      Home: () => move(0),
      End: () => move(runs.length - 1),
      Enter: () => runs[cursor] && props.onOpen(runs[cursor].info.runId),
      " ": () => runs[cursor] && props.onToggle(runs[cursor].info.runId),
    };
    const k = keys[e.key];
    if (k) {
      e.preventDefault();
      k();
    }
  }

  return (
    <div
      class="runs-scroller"
      ref={scroller}
      tabIndex={0}
      onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}
      onKeyDown={onKey}
      data-rows={runs.length}
    >
      <table class="runs-table">
        <thead>
          <tr>
            <th class="check">
              <input type="checkbox" checked={allSelected} onChange={props.onToggleAll} title="select all" />
            </th>
            {columns.map((c) => (
              <th
                key={c}
                data-column={c}
                class={`${c === "attr:name" ? "name " : ""}${
                  sort.column === c ? (sort.descending ? "sorted desc" : "sorted asc") : ""
                }`}
                onClick={() => props.onSort(c)}
                title={`sort by ${c}`}
              >
                {columnLabel(c)}
                {sort.column === c ? (sort.descending ? " ▼" : " ▲") : ""}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {w.padTop > 0 && <tr class="spacer" style={{ height: `${w.padTop}px` }} />}
          {runs.slice(w.start, w.end).map((r, k) => {
            const i = w.start + k;
            const id = r.info.runId;
            const note = r.data.tags["mlflow.note.content"];
            return (
              <tr
                key={id}
                data-run-id={id}
                class={`${selected.has(id) ? "selected" : ""}${i === cursor ? " cursor" : ""}${
                  r.info.lifecycleStage === "deleted" ? " deleted" : ""
                }`}
                onClick={() => setCursor(i)}
                onDblClick={() => props.onOpen(id)}
              >
                <td class="check">
                  <input
                    type="checkbox"
                    checked={selected.has(id)}
                    onClick={(e) => {
                      e.stopPropagation();
                      props.onToggle(id, (e as MouseEvent).shiftKey);
                    }}
                  />
                </td>
                {columns.map((c) => (
                  <td
                    key={c}
                    class={c === "attr:status"
                      ? `status ${r.info.status.toLowerCase()}`
                      : c === "attr:name"
                      ? "name"
                      : ""}
                  >
                    {c === "attr:name"
                      ? (
                        <>
                          <span
                            class="swatch"
                            style={{ background: runColor(id) }}
                            data-color={runColor(id)}
                          />
                          <a href={`#/runs/${encodeURIComponent(id)}`}>{r.info.runName || id}</a>
                          {note && <span class="note-icon" title={note.slice(0, 200)}>✎</span>}
                        </>
                      )
                      : cell(r, c, now)}
                  </td>
                ))}
              </tr>
            );
          })}
          {w.padBottom > 0 && <tr class="spacer" style={{ height: `${w.padBottom}px` }} />}
        </tbody>
      </table>
      {runs.length === 0 && (props.empty ?? <div class="empty">No runs match.</div>)}
    </div>
  );
}
