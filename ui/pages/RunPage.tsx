/**
 * One run: overview (status, times, source, model, copyable id), Markdown notes, the datasets it used (MLflow
 * dataset inputs: context, name, digest, counts), metrics grouped by family with
 * their charts, MoE expert balance, the story samples by step, params grouped by section, tags, the artifacts
 * browser and "register model". Running runs refresh every two seconds; charts keep their zoom.
 */
import { useEffect, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import type { Run } from "../lib/runs.ts";
import { datasetRows, runDuration } from "../lib/runs.ts";
import { formatHash, readChart, writeChart } from "../lib/url_state.ts";
import { formatDuration, formatTime } from "../lib/format.ts";
import { Artifacts } from "../components/Artifacts.tsx";
import { Notes, Register, Tags } from "../components/RunEditors.tsx";
import { ExportLinks } from "../components/ExportLinks.tsx";
import { RunMetrics } from "../components/RunMetrics.tsx";
import { ExpertBalance } from "../components/ExpertBalance.tsx";
import { Samples } from "../components/Samples.tsx";
import { useTitle } from "../lib/title.ts";

interface Props {
  runId: string;
  experiments: api.ExperimentInfo[];
  params: Record<string, string>;
  navigate: (hash: string, replace?: boolean) => void;
  onError: (message: string) => void;
}

/** Params grouped by their section (`model.`, `training.`…), model and training unfolded. */
function Params({ params }: { params: Record<string, string> }) {
  const groups = new Map<string, [string, string][]>();
  for (const [k, v] of Object.entries(params).sort(([a], [b]) => a.localeCompare(b))) {
    const g = k.includes(".") ? k.slice(0, k.indexOf(".")) : "";
    groups.set(g, [...groups.get(g) ?? [], [k, v]]);
  }
  const many = Object.keys(params).length > 20;
  return (
    <section class="run-params">
      <h3>Parameters ({Object.keys(params).length})</h3>
      {groups.size === 0 && <p class="dim">No parameters logged.</p>}
      {[...groups.entries()].map(([g, rows]) => (
        <details key={g} class="family" data-group={g} open={!many || g === "model" || g === "training"}>
          <summary>
            <b>{g || "other"}</b> <span class="dim">{rows.length}</span>
          </summary>
          <table class="kv params">
            <tbody>
              {rows.map(([k, v]) => (
                <tr key={k}>
                  <td>{k}</td>
                  <td>{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </section>
  );
}

/** The run's dataset inputs, training first: context, name, digest, the profile's counts and the source. */
function Datasets({ run }: { run: Run }) {
  const rows = datasetRows(run.inputs);
  if (rows.length === 0) return null;
  const count = (n: number | undefined) => n === undefined ? <span class="dim">—</span> : n.toLocaleString();
  return (
    <section class="run-datasets">
      <h3>Datasets ({rows.length})</h3>
      <table class="list datasets">
        <thead>
          <tr>
            <th>Context</th>
            <th>Name</th>
            <th>Digest</th>
            <th class="num">Documents</th>
            <th class="num">Tokens</th>
            <th>Source</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={`${d.name}|${d.digest}`} data-context={d.context} data-digest={d.digest}>
              <td class="context">{d.context || <span class="dim">—</span>}</td>
              <td class="name">{d.name}</td>
              <td>
                <code class="digest">{d.digest}</code>
              </td>
              <td class="num documents" data-value={d.documents ?? ""}>{count(d.documents)}</td>
              <td class="num tokens" data-value={d.tokens ?? ""}>{count(d.tokens)}</td>
              <td class="source dim">{d.source}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The run page. */
export function RunPage({ runId, experiments, params, navigate, onError }: Props) {
  const [run, setRun] = useState<Run | null>(null);
  const [tick, setTick] = useState(0);
  const [error, setError] = useState("");
  const chart = readChart(params);
  useTitle(run ? `Run ${run.info.runName || run.info.runId}` : error ? "Run not found" : "Run");
  const reload = () =>
    api.getRun(runId).then((r) => {
      setRun(r);
      setError("");
    }, (e) => setError(e.message));

  useEffect(() => {
    setRun(null);
    reload();
  }, [runId]);
  useEffect(() => {
    if (run?.info.status !== "RUNNING") return;
    const t = setInterval(() => {
      reload();
      setTick((n) => n + 1);
    }, 2000);
    return () => clearInterval(t);
  }, [runId, run?.info.status]);

  if (error) {
    return (
      <div class="not-found" data-testid="run-error">
        <h2>Cannot show run {runId}</h2>
        <p class="error">{error}</p>
      </div>
    );
  }
  if (!run) return <div class="dim">loading…</div>;
  const i = run.info;
  const isDeleted = i.lifecycleStage === "deleted";
  const restore = async () => {
    try {
      await api.restoreRun(i.runId);
      await reload();
    } catch (err) {
      onError((err as Error).message);
    }
  };
  const t = run.data.tags;
  const p = run.data.params;
  const setChart = (c: typeof chart) => navigate(formatHash(["runs", runId], writeChart(c)), true);
  const experiment = experiments.find((e) => e.id === i.experimentId)?.name ?? `experiment ${i.experimentId}`;
  const model = [
    p["model_size.parameters"] && `${Number(p["model_size.parameters"]).toLocaleString()} parameters`,
    p["model.moe.num_experts"] && Number(p["model.moe.num_experts"]) > 0 &&
    `MoE ${p["model.moe.num_experts"]} experts, top-${p["model.moe.top_k"]}`,
    p["hardware.amp_dtype_effective"],
    p["hardware.device"],
  ].filter(Boolean).join(" · ");
  const source = [t["mlflow.source.name"], t["mlflow.source.git.commit"]?.slice(0, 10)].filter(Boolean).join(
    " @ ",
  );
  return (
    <div class={`run-page${isDeleted ? " is-deleted" : ""}`}>
      <div class="page-head">
        <h2>
          <a href={`#/experiments/${i.experimentId}`}>{experiment}</a> / {i.runName || i.runId}
          {isDeleted && <span class="badge deleted">deleted</span>}
        </h2>
        <button
          type="button"
          id="compare-with"
          title="compare this run with others of its experiment"
          onClick={() => navigate(formatHash(["compare"], { runs: i.runId }), false)}
        >
          Compare…
        </button>
      </div>
      {isDeleted && (
        <div class="banner deleted" data-testid="deleted-banner">
          This run is deleted: it is hidden from searches and read-only until restored.{" "}
          <button type="button" id="restore-run" onClick={restore}>Restore</button>
        </div>
      )}
      <section>
        <table class="kv overview">
          <tbody>
            <tr>
              <td>Run ID</td>
              <td>
                <code id="run-id">{i.runId}</code>{" "}
                <button type="button" title="copy" onClick={() => navigator.clipboard?.writeText(i.runId)}>
                  copy
                </button>
              </td>
            </tr>
            <tr>
              <td>Status</td>
              <td class={`status ${isDeleted ? "deleted" : i.status.toLowerCase()}`}>
                {isDeleted ? `Deleted (was ${i.status})` : i.status}
              </td>
            </tr>
            <tr>
              <td>Started</td>
              <td>{formatTime(i.startTime)}</td>
            </tr>
            <tr>
              <td>Ended</td>
              <td>{formatTime(i.endTime)}</td>
            </tr>
            <tr>
              <td>Duration</td>
              <td>{formatDuration(runDuration(run))}</td>
            </tr>
            <tr>
              <td>Source</td>
              <td>{source || <span class="dim">unknown</span>}</td>
            </tr>
            <tr>
              <td>User</td>
              <td>{i.userId}</td>
            </tr>
            {model && (
              <tr>
                <td>Model</td>
                <td>{model}</td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      <Notes key={i.runId} run={run} onSaved={reload} onError={onError} readOnly={isDeleted} />
      <Datasets run={run} />
      <RunMetrics run={run} settings={chart} onSettings={setChart} />
      <ExpertBalance run={run} settings={chart} />
      <Samples key={i.runId} runId={i.runId} prompt={p["training.sample_prompt"]} tick={tick} />
      <Params params={p} />
      <Tags key={i.runId} run={run} onChanged={reload} onError={onError} readOnly={isDeleted} />
      <section>
        <h3>Artifacts</h3>
        <Artifacts runId={i.runId} />
      </section>
      {t["mlflow.log-model.history"] !== undefined && <ExportLinks runId={i.runId} />}
      {!isDeleted && <Register key={i.runId} run={run} navigate={navigate} onError={onError} />}
    </div>
  );
}
