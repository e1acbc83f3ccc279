/**
 * The editable parts of a run page: the Markdown notes (`mlflow.note.content`), the tags table (add, edit,
 * delete; `mlflow.*` tags read-only, long values folded) and "register model".
 */
import { useEffect, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import { actions } from "../lib/action.ts";
import type { Run } from "../lib/runs.ts";
import { formatHash } from "../lib/url_state.ts";
import { renderMarkdown } from "../lib/markdown.ts";

/** The tag holding a run's notes. */
export const NOTE = "mlflow.note.content";

type OnError = (message: string) => void;
type Navigate = (hash: string, replace?: boolean) => void;

/** The notes: rendered Markdown, or an editor. */
export function Notes(
  { run, onSaved, onError, readOnly }: {
    run: Run;
    onSaved: () => void;
    onError: OnError;
    readOnly?: boolean;
  },
) {
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
        Notes {!readOnly && (
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
        )}
      </h3>
      {current
        ? <div class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(current) }} />
        : <p class="dim">No notes yet.</p>}
    </section>
  );
}

/** Values this long (`mlflow.log-model.history`'s JSON) show their start and unfold on click. */
const FOLD = 160;

function TagValue({ value }: { value: string }) {
  if (value.length <= FOLD) return <>{value}</>;
  return (
    <details class="fold">
      <summary>
        {value.slice(0, FOLD)}… <span class="dim">({value.length.toLocaleString()} characters)</span>
      </summary>
      <pre class="text-preview">{prettyJson(value)}</pre>
    </details>
  );
}

/** JSON text indented, anything else as it is. */
function prettyJson(v: string): string {
  try {
    return JSON.stringify(JSON.parse(v), null, 2);
  } catch {
    return v;
  }
}

/** The tags table with add / edit / delete. */
export function Tags(
  { run, onChanged, onError, readOnly }: {
    run: Run;
    onChanged: () => void;
    onError: OnError;
    readOnly?: boolean;
  },
) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const act = actions(onChanged, onError);
  const tags = Object.entries(run.data.tags).filter(([k]) => k !== NOTE).sort();
  return (
    <section>
      <h3>Tags</h3>
      {tags.length === 0 && <p class="dim">No tags yet.</p>}
      <table class="kv tags">
        <tbody>
          {tags.map(([k, v]) => (
            <tr key={k}>
              <td>{k}</td>
              <td>
                <TagValue value={v} />
              </td>
              <td class="actions">
                {!readOnly && !k.startsWith("mlflow.") && (
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
      {!readOnly && (
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
          <input
            placeholder="key"
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
          <input
            placeholder="value"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
          <button type="submit">Add tag</button>
        </form>
      )}
    </section>
  );
}

/**
 * Registers the run's model artifact as a new version of a (new or existing) registered model. Existing model
 * names are known up front (and offered as suggestions), so an existing model is not "created" first (a 400);
 * the button is busy while a call is in flight, and registering the same run and path again asks first.
 */
export function Register(
  { run, navigate, onError }: { run: Run; navigate: Navigate; onError: OnError },
) {
  const [name, setName] = useState("");
  const [path, setPath] = useState("model");
  const [done, setDone] = useState("");
  const [busy, setBusy] = useState(false);
  const [models, setModels] = useState<string[]>([]);
  useEffect(() => {
    api.searchModels().then((m) => setModels(m.map((x) => x.name)), () => {});
  }, []);
  const source = `runs:/${run.info.runId}/${path}`;
  const register = async () => {
    setBusy(true);
    try {
      if (models.includes(name)) {
        const same = (await api.modelVersions(name)).filter((v) =>
          v.runId === run.info.runId && v.source === source
        );
        if (
          same.length &&
          !confirm(
            `${name} version ${same[0].version} already comes from this run's ${path}. Register it again?`,
          )
        ) return;
      } else {
        await api.createModel(name);
        setModels([...models, name]);
      }
      const v = await api.createModelVersion(name, source, run.info.runId);
      setDone(`${v.name} version ${v.version}`);
    } catch (err) {
      onError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section>
      <h3>Register model</h3>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (name && !busy) register();
        }}
      >
        <input
          placeholder="model name"
          list="model-names"
          value={name}
          onInput={(e) => {
            setName((e.target as HTMLInputElement).value);
            setDone("");
          }}
        />
        <datalist id="model-names">
          {models.map((m) => <option key={m} value={m} />)}
        </datalist>
        <input
          placeholder="artifact path"
          value={path}
          onInput={(e) => {
            setPath((e.target as HTMLInputElement).value);
            setDone("");
          }}
        />
        <button type="submit" id="register" disabled={busy || !name || !!done}>
          {busy ? "Registering…" : "Register"}
        </button>
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
