/**
 * Compare 2+ runs: params, metrics and tags side by side with a "show only differences" switch, then overlaid
 * metric charts, a scatter and parallel coordinates over the compared runs.
 */
import { useEffect, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import type { Run } from "../lib/runs.ts";
import { compareRows } from "../lib/compare.ts";
import { formatHash, listParam, readChart, writeChart } from "../lib/url_state.ts";
import { formatNumber } from "../lib/format.ts";
import { colorAt } from "../lib/colors.ts";
import { ChartsPanel } from "../components/ChartsPanel.tsx";

interface Props {
  params: Record<string, string>;
  navigate: (hash: string, replace?: boolean) => void;
}

/** The compare page. */
export function ComparePage({ params, navigate }: Props) {
  const ids = listParam(params.runs);
  const diffOnly = params.diff === "1";
  const chart = readChart(params);
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [error, setError] = useState("");
  const idsKey = ids.join(",");
  const setParams = (p: Record<string, string | undefined>) =>
    navigate(
      formatHash(["compare"], { runs: idsKey, diff: diffOnly ? "1" : undefined, ...writeChart(chart), ...p }),
      true,
    );

  useEffect(() => {
    let stop = false;
    let running = false; // the interval's own copy: `runs` in this closure stays the first render's null
    const load = () =>
      Promise.all(ids.map(api.getRun)).then((rs) => {
        if (stop) return;
        setRuns(rs);
        running = rs.some((r) => r.info.status === "RUNNING");
      }, (e) => setError(e.message));
    load();
    const t = setInterval(() => running && load(), 3000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [idsKey]);

  if (ids.length < 2) return <div class="dim">Select two or more runs in a table, then Compare.</div>;
  if (error) return <div class="error">{error}</div>;
  if (!runs) return <div class="dim">loading…</div>;

  const section = (title: string, kind: "params" | "metrics" | "tags") => {
    const rows = compareRows(runs, kind).filter((r) => !diffOnly || r.differs);
    return (
      <section>
        <h3>
          {title} <span class="dim">({rows.length})</span>
        </h3>
        <table class={`compare ${kind}`}>
          <thead>
            <tr>
              <th></th>
              {runs.map((r, i) => (
                <th key={r.info.runId} style={{ borderTop: `3px solid ${colorAt(i)}` }}>
                  <a href={`#/runs/${r.info.runId}`}>{r.info.runName || r.info.runId.slice(0, 8)}</a>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key} class={row.differs ? "differs" : ""}>
                <td>{row.key}</td>
                {row.values.map((v, i) => (
                  <td key={i}>{typeof v === "number" ? formatNumber(v) : v ?? "–"}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    );
  };

  return (
    <div class="compare-page">
      <div class="page-head">
        <h2>Comparing {runs.length} runs</h2>
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
      {section("Parameters", "params")}
      {section("Metrics", "metrics")}
      {section("Tags", "tags")}
      <h3>Charts</h3>
      <ChartsPanel
        runs={runs}
        settings={chart}
        onSettings={(c) => setParams(writeChart(c))}
        onOpen={(id) => navigate(formatHash(["runs", id]), false)}
      />
    </div>
  );
}
