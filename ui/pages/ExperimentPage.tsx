/**
 * An experiment (or several): the runs table with filter, sort, column chooser, selection, delete/restore,
 * CSV export and Compare — or, on the Charts tab, charts across the selected runs. All view state lives in
 * the URL; runs update live.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import { type ExperimentView, formatExperimentView, formatHash, formatList } from "../lib/url_state.ts";
import { availableColumns, columnLabel, columnValue, filterRuns, type Run, sortRuns } from "../lib/runs.ts";
import { type LiveState, watchRuns } from "../lib/live.ts";
import { toCsv } from "../lib/table_export.ts";
import { formatTime } from "../lib/format.ts";
import { headlineKeys } from "../lib/families.ts";
import { FilterBox } from "../components/FilterBox.tsx";
import { RunsTable } from "../components/RunsTable.tsx";
import { ColumnChooser } from "../components/ColumnChooser.tsx";
import { ChartsPanel } from "../components/ChartsPanel.tsx";

interface Props {
  view: ExperimentView;
  experiments: api.ExperimentInfo[];
  navigate: (hash: string, replace?: boolean) => void;
  onError: (message: string) => void;
}

function download(name: string, text: string, type: string) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** The experiment page. */
export function ExperimentPage({ view, experiments, navigate, onError }: Props) {
  const [live, setLive] = useState<LiveState>({ runs: [], loading: true });
  const filterRef = useRef<HTMLInputElement>(null);
  const idsKey = view.experimentIds.join(",");

  useEffect(() => {
    setLive({ runs: [], loading: true });
    return watchRuns(view.experimentIds, view.showDeleted, setLive);
  }, [idsKey, view.showDeleted]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key === "/" && t.tagName !== "INPUT" && t.tagName !== "TEXTAREA") {
        e.preventDefault();
        filterRef.current?.focus();
        filterRef.current?.select();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const set = (patch: Partial<ExperimentView>, replace = true) =>
    navigate(formatExperimentView({ ...view, ...patch }), replace);
  const filtered = useMemo(() => filterRuns(live.runs, view.filter), [live.runs, view.filter]);
  const sorted = useMemo(
    () => sortRuns(filtered.runs, view.sort.column, view.sort.descending),
    [filtered.runs, view.sort.column, view.sort.descending],
  );
  const available = useMemo(() => availableColumns(live.runs), [live.runs]);
  const columns = view.columns.length
    ? view.columns
    : headlineKeys(available.metrics, 5).map((k) => `metric:${k}`);
  const selected = new Set(view.selected);
  const lastClicked = useRef<string | null>(null);

  const toggle = (id: string, range?: boolean) => {
    const next = new Set(selected);
    if (range && lastClicked.current) {
      const a = sorted.findIndex((r) => r.info.runId === lastClicked.current);
      const b = sorted.findIndex((r) => r.info.runId === id);
      if (a >= 0 && b >= 0) {
        for (let i = Math.min(a, b); i <= Math.max(a, b); i++) next.add(sorted[i].info.runId);
      }
    } else if (next.has(id)) next.delete(id);
    else next.add(id);
    lastClicked.current = id;
    set({ selected: [...next] });
  };
  const toggleAll = () => {
    const all = sorted.every((r) => selected.has(r.info.runId));
    set({ selected: all ? [] : sorted.map((r) => r.info.runId) });
  };
  const sortBy = (column: string) =>
    set({
      sort: {
        column,
        descending: view.sort.column === column ? !view.sort.descending : column !== "attr:name",
      },
    });

  const bulk = async (f: (id: string) => Promise<unknown>) => {
    try {
      for (const id of view.selected) await f(id);
      set({ selected: [] });
    } catch (err) {
      onError((err as Error).message);
    }
  };
  const exportCsv = () => {
    const cols = ["attr:name", "attr:id", "attr:status", "attr:start", "attr:duration", ...columns];
    const rows = sorted.map((r) =>
      cols.map((c) => {
        const v = columnValue(r, c);
        return c === "attr:start" ? formatTime(v as number) : v;
      })
    );
    download("runs.csv", toCsv(cols.map(columnLabel), rows), "text/csv");
  };

  const names = view.experimentIds.map((id) => experiments.find((e) => e.id === id)?.name ?? id).join(", ");
  const selectedRuns = sorted.filter((r) => selected.has(r.info.runId));
  const chartRuns: Run[] = selectedRuns.length ? selectedRuns : sorted.slice(0, 10);

  return (
    <div class="experiment-page">
      <div class="page-head">
        <h2>{names}</h2>
        <div class="tabs" role="tablist">
          <button
            type="button"
            role="tab"
            aria-selected={view.tab === "table"}
            onClick={() => set({ tab: "table" }, false)}
          >
            Runs
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={view.tab === "charts"}
            onClick={() => set({ tab: "charts" }, false)}
          >
            Charts
          </button>
        </div>
      </div>
      <FilterBox
        value={view.filter}
        problem={filtered.problem}
        onInput={(filter) => set({ filter })}
        inputRef={filterRef}
      />
      <div class="toolbar">
        <span class="count" data-testid="run-count">
          {sorted.length.toLocaleString()} of {live.runs.length.toLocaleString()} runs
          {live.loading ? " (loading…)" : ""}
          {view.selected.length ? ` · ${view.selected.length} selected` : ""}
        </span>
        <button
          type="button"
          id="compare"
          disabled={view.selected.length < 2}
          onClick={() => navigate(formatHash(["compare"], { runs: formatList(view.selected) }))}
        >
          Compare
        </button>
        <button
          type="button"
          disabled={!view.selected.length}
          onClick={() => confirm("Delete the selected runs?") && bulk(api.deleteRun)}
        >
          Delete
        </button>
        {view.showDeleted && (
          <button
            type="button"
            disabled={!view.selected.length}
            onClick={() => bulk(api.restoreRun)}
          >
            Restore
          </button>
        )}
        <button type="button" onClick={exportCsv}>Export CSV</button>
        <label>
          <input
            type="checkbox"
            checked={view.showDeleted}
            onChange={() => set({ showDeleted: !view.showDeleted })}
          />{" "}
          deleted runs
        </label>
        <ColumnChooser available={available} chosen={columns} onChange={(c) => set({ columns: c })} />
        {live.error && <span class="error">{live.error}</span>}
      </div>
      {view.tab === "table"
        ? (
          <RunsTable
            runs={sorted}
            columns={columns}
            sort={view.sort}
            selected={selected}
            onSort={sortBy}
            onToggle={toggle}
            onToggleAll={toggleAll}
            onOpen={(id) => navigate(formatHash(["runs", id]), false)}
          />
        )
        : (
          <ChartsPanel
            runs={chartRuns}
            population={sorted}
            settings={view.chart}
            onSettings={(chart) => set({ chart })}
            onOpen={(id) => navigate(formatHash(["runs", id]), false)}
          />
        )}
    </div>
  );
}
