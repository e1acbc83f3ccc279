/**
 * One run: overview (status, times, source, copyable id), markdown notes (`mlflow.note.content`), params,
 * metrics with a chart each, tags editing, the artifacts browser and "register model". Running runs refresh
 * every two seconds; charts keep their zoom.
 */
import { useEffect, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import type { Run } from "../lib/runs.ts";
import { runDuration } from "../lib/runs.ts";
import { formatHash, readChart, writeChart } from "../lib/url_state.ts";
import { formatDuration, formatNumber, formatTime } from "../lib/format.ts";
import { renderMarkdown } from "../lib/markdown.ts";
import { LineChart } from "../components/LineChart.tsx";
import { ChartControls } from "../components/ChartsPanel.tsx";
import { Artifacts } from "../components/Artifacts.tsx";

const NOTE = "mlflow.note.content";

interface Props {
  runId: string;
  params: Record<string, string>;
  navigate: (hash: string, replace?: boolean) => void;
  onError: (message: string) => void;
}

function Notes({ run, onSaved, onError }: { run: Run; onSaved: () => void; onError: (m: string) => void }) {
  const current = run.data.tags[NOTE] ?? "";
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(current);
  const save = async () => {
    try {
      await api.setTag(run.info.runId, NOTE, draft);
      setEditing(false);
      onSaved();
    } catch (err) {
      onError((err as Error).message);
    }
  };
  if (editing) {
    return (
      <section class="notes">
        <h3>Notes</h3>
        <textarea
          id="note-editor"
          rows={8}
          value={draft}
          onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
        />
        <div>
          <button type="button" id="note-save" onClick={save}>Save</button>
          <button type="button" onClick={() => setEditing(false)}>Cancel</button>
          <span class="dim">Markdown; raw HTML is shown as text.</span>
        </div>
      </section>
    );
  }
  return (
    <section class="notes">
      <h3>
        Notes{" "}
        <button
          type="button"
          id="note-edit"
          onClick={() => {
            setDraft(current);
            setEditing(true);
          }}
        >
          Edit
        </button>
      </h3>
      {current
        ? <div class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(current) }} />
        : <p class="dim">No notes yet.</p>}
    </section>
  );
}

function Tags(
  { run, onChanged, onError }: { run: Run; onChanged: () => void; onError: (m: string) => void },
) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const act = async (f: () => Promise<unknown>) => {
    try {
      await f();
      onChanged();
    } catch (err) {
      onError((err as Error).message);
    }
  };
  const tags = Object.entries(run.data.tags).filter(([k]) => k !== NOTE).sort();
  return (
    <section>
      <h3>Tags</h3>
      <table class="kv">
        <tbody>
          {tags.map(([k, v]) => (
            <tr key={k}>
              <td>{k}</td>
              <td>{v}</td>
              <td>
                {!k.startsWith("mlflow.") && (
                  <>
                    <button
                      type="button"
                      title="edit"
                      onClick={() => {
                        const nv = prompt(`Value of ${k}`, v);
                        if (nv !== null) act(() => api.setTag(run.info.runId, k, nv));
                      }}
                    >
                      ✎
                    </button>
                    <button
                      type="button"
                      title="delete"
                      onClick={() => act(() => api.deleteTag(run.info.runId, k))}
                    >
                      ✕
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (key) {
            act(() => api.setTag(run.info.runId, key, value));
            setKey("");
            setValue("");
          }
        }}
      >
        <input placeholder="key" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        <input
          placeholder="value"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Add tag</button>
      </form>
    </section>
  );
}

function Register(
  { run, navigate, onError }: { run: Run; navigate: Props["navigate"]; onError: (m: string) => void },
) {
  const [name, setName] = useState("");
  const [path, setPath] = useState("model");
  const [done, setDone] = useState("");
  const register = async () => {
    try {
      try {
        await api.createModel(name);
      } catch (err) {
        if ((err as api.ApiError).code !== "RESOURCE_ALREADY_EXISTS") throw err;
      }
      const v = await api.createModelVersion(name, `runs:/${run.info.runId}/${path}`, run.info.runId);
      setDone(`${v.name} version ${v.version}`);
    } catch (err) {
      onError((err as Error).message);
    }
  };
  return (
    <section>
      <h3>Register model</h3>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (name) register();
        }}
      >
        <input
          placeholder="model name"
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        <input
          placeholder="artifact path"
          value={path}
          onInput={(e) => setPath((e.target as HTMLInputElement).value)}
        />
        <button type="submit" id="register">Register</button>
        {done && (
          <a
            id="registered"
            href={formatHash(["models", name])}
            onClick={() => navigate(formatHash(["models", name]), false)}
          >
            registered {done}
          </a>
        )}
      </form>
    </section>
  );
}

/** The run page. */
export function RunPage({ runId, params, navigate, onError }: Props) {
  const [run, setRun] = useState<Run | null>(null);
  const [tick, setTick] = useState(0);
  const [error, setError] = useState("");
  const chart = readChart(params);
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

  if (error) return <div class="error">{error}</div>;
  if (!run) return <div class="dim">loading…</div>;
  const i = run.info;
  const t = run.data.tags;
  const metrics = Object.values(run.data.metrics).sort((a, b) => a.key.localeCompare(b.key));
  const shown = chart.metrics.length ? chart.metrics : metrics.map((m) => m.key);
  const source = [t["mlflow.source.name"], t["mlflow.source.git.commit"]?.slice(0, 10)].filter(Boolean).join(
    " @ ",
  );
  return (
    <div class="run-page">
      <div class="page-head">
        <h2>
          <a href={`#/experiments/${i.experimentId}`}>experiment {i.experimentId}</a> / {i.runName || i.runId}
        </h2>
        <button type="button" onClick={() => navigate(formatHash(["compare"], { runs: i.runId }), false)}>
          Compare…
        </button>
      </div>
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
              <td class={`status ${i.status.toLowerCase()}`}>
                {i.status}
                {i.lifecycleStage === "deleted" ? " (deleted)" : ""}
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
          </tbody>
        </table>
      </section>
      <Notes run={run} onSaved={reload} onError={onError} />
      <section>
        <h3>Parameters ({Object.keys(run.data.params).length})</h3>
        <table class="kv params">
          <tbody>
            {Object.entries(run.data.params).sort().map(([k, v]) => (
              <tr key={k}>
                <td>{k}</td>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h3>Metrics ({metrics.length})</h3>
        <table class="kv metrics">
          <tbody>
            {metrics.map((m) => (
              <tr key={m.key}>
                <td>
                  <label>
                    <input
                      type="checkbox"
                      checked={shown.includes(m.key)}
                      onChange={() => {
                        const next = shown.includes(m.key)
                          ? shown.filter((k) => k !== m.key)
                          : [...shown, m.key];
                        navigate(formatHash(["runs", runId], writeChart({ ...chart, metrics: next })), true);
                      }}
                    />{" "}
                    {m.key}
                  </label>
                </td>
                <td>{formatNumber(m.value)}</td>
                <td class="dim">step {m.step}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <ChartControls
          settings={chart}
          onSettings={(c) => navigate(formatHash(["runs", runId], writeChart(c)), true)}
        />
        <div class="chart-grid">
          {shown.filter((k) => run.data.metrics[k]).map((k) => (
            <LineChart
              key={k}
              metric={k}
              runs={[{ id: i.runId, label: i.runName || i.runId, color: "#4e79a7", startTime: i.startTime }]}
              settings={chart}
              tick={tick}
            />
          ))}
        </div>
      </section>
      <Tags run={run} onChanged={reload} onError={onError} />
      <section>
        <h3>Artifacts</h3>
        <Artifacts runId={i.runId} />
      </section>
      <Register run={run} navigate={navigate} onError={onError} />
    </div>
  );
}
