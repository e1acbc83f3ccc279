/**
 * An experiment (or several): the runs table with filter, sort, column chooser, selection, delete/restore,
 * CSV export and Compare — or, on the Charts tab, charts across the selected runs. All view state lives in
 * the URL (a large selection by reference, see lib/selection.ts) and is remembered per experiment; runs update
 * live. Unknown experiments say so; deleted ones say so and offer Restore.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import { type ExperimentView, formatExperimentView, formatHash } from "../lib/url_state.ts";
import { formatSelection } from "../lib/selection.ts";
import {
  availableColumns,
  columnLabel,
  columnValue,
  differingParams,
  filterRuns,
  type Run,
  sortRuns,
} from "../lib/runs.ts";
import { type LiveState, watchRuns } from "../lib/live.ts";
import { toCsv } from "../lib/table_export.ts";
import { formatTime } from "../lib/format.ts";
import { headlineKeys } from "../lib/families.ts";
import { assignColors } from "../lib/colors.ts";
import { rememberView } from "../lib/view_memory.ts";
import { useTitle } from "../lib/title.ts";
import { FilterBox } from "../components/FilterBox.tsx";
import { RunsTable } from "../components/RunsTable.tsx";
import { ColumnChooser } from "../components/ColumnChooser.tsx";
import { ChartsPanel } from "../components/ChartsPanel.tsx";

interface Props {
  view: ExperimentView;
  experiments: api.ExperimentInfo[];
  /** The experiments list has arrived (an id missing from it then does not exist). */
  experimentsLoaded: boolean;
  navigate: (hash: string, replace?: boolean) => void;
  onError: (message: string) => void;
  /** An experiment was restored: reload the list. */
  onExperimentsChanged: () => void;
}

/** Param columns shown by default (the ones that differ between runs). */
const DEFAULT_PARAMS = 3;

function download(name: string, text: string, type: string) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** An experiment id that is not in the store. */
function ExperimentNotFound({ ids }: { ids: string[] }) {
  useTitle("Experiment not found");
  return (
    <div class="not-found" data-testid="experiment-not-found">
      <h2>Experiment not found</h2>
      <p>
        There is no experiment with id {ids.map((id, i) => (
          <>
            {i ? ", " : ""}
            <code>{id}</code>
          </>
        ))} in this store. Pick one from the list on the left.
      </p>
    </div>
  );
}

/** What an experiment without runs shows instead of an empty table. */
function NoRunsYet() {
  return (
    <div class="onboarding" data-testid="no-runs-yet">
      <p>
        <b>No runs in this experiment yet.</b> Train one and it appears here live:
      </p>
      <pre>deno task train --config tiny</pre>
      <p class="dim">
        or log from any MLflow client with <code>mlflow.set_tracking_uri("{location.origin}")</code>.
      </p>
    </div>
  );
}

/** The experiment page. */
export function ExperimentPage(
  { view, experiments, experimentsLoaded, navigate, onError, onExperimentsChanged }: Props,
) {
  const [live, setLive] = useState<LiveState>({ runs: [], loading: true });
  const filterRef = useRef<HTMLInputElement>(null);
  const idsKey = view.experimentIds.join(",");
  const infos = view.experimentIds.map((id) => experiments.find((e) => e.id === id));
  const missing = experimentsLoaded ? view.experimentIds.filter((_, i) => !infos[i]) : [];
  const deleted = infos.filter((e) => e?.lifecycleStage === "deleted") as api.ExperimentInfo[];
  const names = view.experimentIds.map((id, i) => infos[i]?.name ?? id).join(", ");
  useTitle(missing.length ? "Experiment not found" : names);

  useEffect(() => {
    setLive({ runs: [], loading: true });
    if (missing.length) return;
    return watchRuns(view.experimentIds, view.showDeleted, setLive);
  }, [idsKey, view.showDeleted, missing.length]);

  const hash = formatExperimentView(view);
  useEffect(() => {
    if (!missing.length) rememberView(idsKey, hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
  }, [hash]);

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
  const differing = useMemo(() => differingParams(live.runs), [live.runs]);
  const columns = view.columns.length ? view.columns : [
    ...headlineKeys(available.metrics, 5).map((k) => `metric:${k}`),
    ...differing.slice(0, DEFAULT_PARAMS).map((k) => `param:${k}`),
  ];
  const selectedIds = view.selectAll ? sorted.map((r) => r.info.runId) : view.selected;
  const selected = useMemo(() => new Set(selectedIds), [view.selectAll ? sorted : view.selected]);
  const lastClicked = useRef<string | null>(null);

  if (missing.length) return <ExperimentNotFound ids={missing} />;

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
    set({ selected: [...next], selectAll: false });
  };
  const toggleAll = () => {
    const all = sorted.length > 0 && sorted.every((r) => selected.has(r.info.runId));
    set({ selected: [], selectAll: !all });
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
      await api.pool(selectedIds, 4, f);
      set({ selected: [], selectAll: false });
    } catch (err) {
      onError((err as Error).message);
    }
  };
  const compare = () => {
    if (view.selectAll) {
      // "every run matching this filter": the compare page searches for them itself
      navigate(
        formatHash(["compare"], {
          exp: idsKey,
          q: view.filter,
          deleted: view.showDeleted ? "1" : undefined,
        }),
        false,
      );
    } else navigate(formatHash(["compare"], { runs: formatSelection(selectedIds) }), false);
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
  const restore = async () => {
    try {
      for (const e of deleted) await api.restoreExperiment(e.id);
      onExperimentsChanged();
    } catch (err) {
      onError((err as Error).message);
    }
  };

  const selectedRuns = view.selectAll ? sorted : sorted.filter((r) => selected.has(r.info.runId));
  const chartRuns: Run[] = selectedRuns.length ? selectedRuns : sorted.slice(0, 10);
  if (view.tab === "charts") assignColors(chartRuns.slice(0, 20).map((r) => r.info.runId));
  const nSelected = selectedIds.length;
  const empty = !live.loading && !live.error && live.runs.length === 0 && !view.filter && !view.showDeleted;

  return (
    <div class={`experiment-page${deleted.length ? " is-deleted" : ""}`}>
      <div class="page-head">
        <h2>
          {names}
          {deleted.length > 0 && <span class="badge deleted">deleted</span>}
        </h2>
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
      {deleted.length > 0 && (
        <div class="banner deleted" data-testid="deleted-banner">
          {deleted.length === 1 ? "This experiment is deleted" : "Some of these experiments are deleted"}: its
          runs are kept until the store is cleaned, but hidden from searches.{" "}
          <button type="button" id="restore-experiment" onClick={restore}>Restore</button>
        </div>
      )}
      <FilterBox
        value={view.filter}
        problem={filtered.problem}
        check={(f) => filterRuns([], f).problem}
        onApply={(filter) => set({ filter, selectAll: view.selectAll && filter === view.filter })}
        inputRef={filterRef}
      />
      <div class="toolbar">
        <span class="count" data-testid="run-count">
          {sorted.length.toLocaleString()} of {live.runs.length.toLocaleString()} runs
          {live.loading ? " (loading…)" : ""}
          {nSelected ? ` · ${view.selectAll ? "all " : ""}${nSelected.toLocaleString()} selected` : ""}
        </span>
        <button type="button" id="compare" disabled={nSelected < 2} onClick={compare}>
          Compare
        </button>
        <button
          type="button"
          disabled={!nSelected}
          onClick={() => confirm(`Delete ${nSelected.toLocaleString()} runs?`) && bulk(api.deleteRun)}
        >
          Delete
        </button>
        {view.showDeleted && (
          <button type="button" disabled={!nSelected} onClick={() => bulk(api.restoreRun)}>
            Restore
          </button>
        )}
        <button type="button" id="export-csv" disabled={sorted.length === 0} onClick={exportCsv}>
          Export CSV
        </button>
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
            empty={empty ? <NoRunsYet /> : undefined}
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
