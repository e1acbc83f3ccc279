/**
 * Compare runs: params, metrics and tags side by side with a "show only differences" switch, then overlaid
 * metric charts, a scatter and parallel coordinates over the compared runs. The runs come from the URL as ids
 * (`runs=a,b`, or a stored long selection `runs=@key`) or as "every run of these experiments matching this
 * filter" (`exp=1&q=…`), fetched in bulk with a cap on requests in flight. With fewer than two runs the page
 * offers the experiment's other runs to add.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import type { Run } from "../lib/runs.ts";
import { compareRows } from "../lib/compare.ts";
import { formatHash, listParam, readChart, writeChart } from "../lib/url_state.ts";
import { formatSelection, readSelection } from "../lib/selection.ts";
import { formatNumber } from "../lib/format.ts";
import { assignColors, runColor } from "../lib/colors.ts";
import { useTitle } from "../lib/title.ts";
import { ChartsPanel } from "../components/ChartsPanel.tsx";

interface Props {
  params: Record<string, string>;
  experiments: api.ExperimentInfo[];
  navigate: (hash: string, replace?: boolean) => void;
}

/** Runs shown as table columns (differences are still computed over all of them). */
const TABLE_RUNS = 100;
/** Compare sets up to this size refresh while a run is running. */
const LIVE_MAX = 50;
/** Runs offered when adding to a comparison. */
const PICK = 50;

/** Runs of the same experiment to add to the comparison (the run page's "Compare…" opens with one run). */
function AddRuns({ current, experimentId, onAdd }: {
  current: Run[];
  experimentId: string;
  onAdd: (ids: string[]) => void;
}) {
  const [q, setQ] = useState("");
  const [others, setOthers] = useState<Run[] | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  useEffect(() => {
    api.searchRuns([experimentId], { maxResults: 1000 }).then((p) => setOthers(p.runs), () => setOthers([]));
  }, [experimentId]);
  const have = new Set(current.map((r) => r.info.runId));
  const shown = (others ?? []).filter((r) =>
    !have.has(r.info.runId) && (r.info.runName || r.info.runId).toLowerCase().includes(q.toLowerCase())
  ).slice(0, PICK);
  const toggle = (id: string) =>
    setPicked(picked.includes(id) ? picked.filter((x) => x !== id) : [...picked, id]);
  return (
    <section class="add-runs" data-testid="add-runs">
      <h3>Add runs to compare</h3>
      <input
        type="search"
        id="add-runs-search"
        placeholder="search this experiment's runs by name"
        value={q}
        onInput={(e) => setQ((e.target as HTMLInputElement).value)}
      />
      {others === null
        ? <p class="dim">loading…</p>
        : shown.length === 0
        ? <p class="dim">No other runs in this experiment{q ? " match" : ""}.</p>
        : (
          <ul class="pick-list">
            {shown.map((r) => (
              <li key={r.info.runId}>
                <label>
                  <input
                    type="checkbox"
                    data-run-id={r.info.runId}
                    checked={picked.includes(r.info.runId)}
                    onChange={() => toggle(r.info.runId)}
                  />{" "}
                  {r.info.runName || r.info.runId}
                </label>
              </li>
            ))}
          </ul>
        )}
      <button type="button" id="add-runs" disabled={!picked.length} onClick={() => onAdd(picked)}>
        Add {picked.length || ""} to the comparison
      </button>
    </section>
  );
}

/** The compare page. */
export function ComparePage({ params, experiments, navigate }: Props) {
  const byFilter = params.exp !== undefined;
  const ids = useMemo(() => readSelection(params.runs), [params.runs]);
  const diffOnly = params.diff === "1";
  const chart = readChart(params);
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [progress, setProgress] = useState(0);
  const [error, setError] = useState("");
  const sourceKey = byFilter ? `exp:${params.exp}|${params.q ?? ""}|${params.deleted ?? ""}` : ids.join(",");
  const setParams = (p: Record<string, string | undefined>) =>
    navigate(
      formatHash(["compare"], {
        runs: byFilter ? undefined : params.runs,
        exp: params.exp,
        q: params.q,
        deleted: params.deleted,
        diff: diffOnly ? "1" : undefined,
        ...writeChart(chart),
        ...p,
      }),
      true,
    );
  useTitle(runs ? `Compare ${runs.length} runs` : "Compare");

  useEffect(() => {
    let stop = false;
    let running = false; // the interval's own copy: `runs` in this closure stays the first render's null
    setRuns(null);
    setError("");
    setProgress(0);
    const progressed = (n: number) => !stop && setProgress(n);
    const fetch = () =>
      byFilter
        ? api.searchAllRuns(
          listParam(params.exp),
          params.q ?? "",
          params.deleted === "1" ? "ALL" : "ACTIVE_ONLY",
          progressed,
        )
        : api.getRuns(ids, experiments.map((e) => e.id), progressed);
    const load = () =>
      fetch().then((rs) => {
        if (stop) return;
        assignColors(rs.slice(0, 20).map((r) => r.info.runId));
        setRuns(rs);
        running = rs.length <= LIVE_MAX && rs.some((r) => r.info.status === "RUNNING");
      }, (e) => !stop && setError(e.message));
    if (byFilter || ids.length) load();
    else setRuns([]);
    const t = setInterval(() => running && load(), 3000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [sourceKey]);

  if (error) return <div class="error">Cannot load the runs to compare: {error}</div>;
  if (!runs) {
    const total = byFilter ? "" : ` of ${ids.length.toLocaleString()}`;
    return <div class="dim">loading runs… {progress ? `${progress.toLocaleString()}${total}` : ""}</div>;
  }
  const add = (more: string[]) =>
    navigate(formatHash(["compare"], { runs: formatSelection([...ids, ...more]) }), false);
  const remove = (id: string) =>
    setParams({
      runs: formatSelection(runs.map((r) => r.info.runId).filter((x) => x !== id)),
      exp: undefined,
      q: undefined,
    });

  if (runs.length < 2) {
    return (
      <div class="compare-page">
        <div class="page-head">
          <h2>Compare</h2>
        </div>
        {runs.length === 1
          ? (
            <p>
              Comparing{" "}
              <a href={`#/runs/${runs[0].info.runId}`}>{runs[0].info.runName || runs[0].info.runId}</a>{" "}
              with… pick one or more runs below.
            </p>
          )
          : <p class="dim">Select two or more runs in a table, then Compare.</p>}
        {runs.length === 1 && <AddRuns current={runs} experimentId={runs[0].info.experimentId} onAdd={add} />}
      </div>
    );
  }

  const tableRuns = runs.slice(0, TABLE_RUNS);
  const section = (title: string, kind: "params" | "metrics" | "tags") => {
    const rows = compareRows(runs, kind).filter((r) => !diffOnly || r.differs);
    return (
      <section>
        <h3>
          {title} <span class="dim">({rows.length})</span>
        </h3>
        <div class="compare-scroller">
          <table class={`compare ${kind}`}>
            <thead>
              <tr>
                <th></th>
                {tableRuns.map((r) => (
                  <th
                    key={r.info.runId}
                    style={{ borderTop: `3px solid ${runColor(r.info.runId)}` }}
                    data-color={runColor(r.info.runId)}
                    data-run-id={r.info.runId}
                  >
                    <a href={`#/runs/${r.info.runId}`}>{r.info.runName || r.info.runId.slice(0, 8)}</a>
                    {!byFilter && kind === "params" && (
                      <button
                        type="button"
                        class="link remove"
                        title="remove from the comparison"
                        onClick={() => remove(r.info.runId)}
                      >
                        ×
                      </button>
                    )}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.key} class={row.differs ? "differs" : ""}>
                  <td>{row.key}</td>
                  {row.values.slice(0, TABLE_RUNS).map((v, i) => (
                    <td key={i}>{typeof v === "number" ? formatNumber(v) : v ?? "–"}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    );
  };

  return (
    <div class="compare-page">
      <div class="page-head">
        <h2>Comparing {runs.length.toLocaleString()} runs</h2>
        <label class="switch">
          <input
            type="checkbox"
            id="diff-only"
            checked={diffOnly}
            onChange={() => setParams({ diff: diffOnly ? undefined : "1" })}
          />{" "}
          show only differences
        </label>
      </div>
      {byFilter && (
        <p class="dim">
          Every run matching <code>{params.q || "(no filter)"}</code> in the experiment.
        </p>
      )}
      {runs.length > TABLE_RUNS && (
        <p class="dim" data-testid="table-capped">
          The tables show the first {TABLE_RUNS} of {runs.length.toLocaleString()}{" "}
          runs; differences are computed over all of them, and the scatter and parallel coordinates show them
          all.
        </p>
      )}
      {section("Parameters", "params")}
      {section("Metrics", "metrics")}
      {section("Tags", "tags")}
      <h3>Charts</h3>
      <ChartsPanel
        runs={runs}
        settings={chart}
        diffOnly={diffOnly}
        onSettings={(c) => setParams(writeChart(c))}
        onOpen={(id) => navigate(formatHash(["runs", id]), false)}
      />
    </div>
  );
}
