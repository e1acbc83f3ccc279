/** The model registry: registered models, and one model's versions (source runs, aliases, tags, descriptions). */
import { useEffect, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import { actions } from "../lib/action.ts";
import { formatTime } from "../lib/format.ts";
import { useTitle } from "../lib/title.ts";
import { ExportLinks } from "../components/ExportLinks.tsx";

interface Props {
  name?: string;
  onError: (message: string) => void;
}

function ModelList() {
  const [models, setModels] = useState<api.ModelInfo[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api.searchModels().then(setModels, (e) => setError(e.message));
  }, []);
  if (error) return <div class="error">{error}</div>;
  if (!models) return <div class="dim">loading…</div>;
  return (
    <div class="models-page">
      <h2>Registered models</h2>
      {models.length === 0 && <p class="dim">No registered models yet — register one from a run's page.</p>}
      <table class="list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Latest</th>
            <th>Aliases</th>
            <th>Updated</th>
            <th>Description</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.name}>
              <td>
                <a href={`#/models/${encodeURIComponent(m.name)}`}>{m.name}</a>
                {isPrompt(m.tags) && <PromptPill />}
              </td>
              <td>{m.latest.join(", ")}</td>
              <td>
                {Object.entries(m.aliases).map(([a, v]) => <span class="pill" key={a}>@{a} → v{v}</span>)}
              </td>
              <td>{formatTime(m.updated)}</td>
              <td>{m.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ModelDetail({ name, onError }: { name: string; onError: (m: string) => void }) {
  const [model, setModel] = useState<api.ModelInfo | null>(null);
  const [versions, setVersions] = useState<api.ModelVersionInfo[]>([]);
  const [error, setError] = useState("");
  const load = () =>
    Promise.all([api.getModel(name), api.modelVersions(name)]).then(([m, v]) => {
      setModel(m);
      setVersions(v);
    }, (e) => setError(e.message));
  useEffect(() => {
    load();
  }, [name]);
  const act = actions(load, onError);
  if (error) return <div class="error">{error}</div>;
  if (!model) return <div class="dim">loading…</div>;
  return (
    <div class="model-page">
      <h2>
        <a href="#/models">Models</a> / {model.name}
        {isPrompt(model.tags) && <PromptPill />}
      </h2>
      <section>
        <h3>
          Description{" "}
          <button
            type="button"
            onClick={() => {
              const d = prompt("Description", model.description);
              if (d !== null) act(() => api.updateModelDescription(name, d));
            }}
          >
            Edit
          </button>
        </h3>
        <p>{model.description || <span class="dim">none</span>}</p>
        <h3>
          Tags{" "}
          <button
            type="button"
            onClick={() => {
              const kv = prompt("Tag as key=value");
              const i = kv?.indexOf("=") ?? -1;
              if (kv && i > 0) act(() => api.setModelTag(name, kv.slice(0, i), kv.slice(i + 1)));
            }}
          >
            Add
          </button>
        </h3>
        {Object.entries(model.tags).map(([k, v]) => (
          <span class="pill" key={k}>
            {k}={v}{" "}
            <button type="button" class="link" onClick={() => act(() => api.deleteModelTag(name, k))}>
              ✕
            </button>
          </span>
        ))}
      </section>
      <section>
        <h3>Versions</h3>
        <table class="list">
          <thead>
            <tr>
              <th>Version</th>
              <th>Source run</th>
              <th>Aliases</th>
              <th>Created</th>
              <th>Status</th>
              <th>Description</th>
              <th>Tags</th>
              <th>Export</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version}>
                <td>v{v.version}</td>
                <td>
                  {v.tags[PROMPT_TEXT] !== undefined
                    ? <pre class="prompt-template" data-prompt-version={v.version}>{v.tags[PROMPT_TEXT]}</pre>
                    : v.runId
                    ? <a href={`#/runs/${v.runId}`}>{v.runId.slice(0, 12)}</a>
                    : v.source}
                </td>
                <td>
                  {v.aliases.map((a) => (
                    <span class="pill" key={a}>
                      @{a}{" "}
                      <button type="button" class="link" onClick={() => act(() => api.deleteAlias(name, a))}>
                        ✕
                      </button>
                    </span>
                  ))}
                  <button
                    type="button"
                    title="set alias"
                    onClick={() => {
                      const a = prompt(`Alias for version ${v.version}`);
                      if (a) act(() => api.setAlias(name, a, v.version));
                    }}
                  >
                    +@
                  </button>
                </td>
                <td>{formatTime(v.created)}</td>
                <td>{v.status} {v.stage !== "None" ? v.stage : ""}</td>
                <td>
                  {v.description}{" "}
                  <button
                    type="button"
                    class="link"
                    onClick={() => {
                      const d = prompt("Description", v.description);
                      if (d !== null) act(() => api.updateVersionDescription(name, v.version, d));
                    }}
                  >
                    ✎
                  </button>
                </td>
                <td>
                  {Object.entries(v.tags).map(([k, val]) => <span class="pill" key={k}>{k}={val}</span>)}
                  <button
                    type="button"
                    class="link"
                    onClick={() => {
                      const kv = prompt("Tag as key=value");
                      const i = kv?.indexOf("=") ?? -1;
                      if (kv && i > 0) {
                        act(() => api.setVersionTag(name, v.version, kv.slice(0, i), kv.slice(i + 1)));
                      }
                    }}
                  >
                    +tag
                  </button>
                </td>
                <td>{v.runId ? <ExportLinks runId={v.runId} compact /> : <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

/** The models page: the list, or one model when `name` is given. */
export function ModelsPage({ name, onError }: Props) {
  useTitle(name ? `Model ${name}` : "Models");
  return name ? <ModelDetail name={name} onError={onError} /> : <ModelList />;
}

/** MLflow's prompt registry marks a registered model as a prompt with this tag; a version's template is PROMPT_TEXT. */
const IS_PROMPT = "mlflow.prompt.is_prompt";
const PROMPT_TEXT = "mlflow.prompt.text";

function isPrompt(tags: Record<string, string>): boolean {
  return tags[IS_PROMPT] === "true";
}

function PromptPill() {
  return <span class="pill prompt" data-prompt title="a prompt of MLflow's prompt registry">prompt</span>;
}
