/**
 * The editable parts of a run page: the Markdown notes (`mlflow.note.content`), the tags table (add, edit,
 * delete; `mlflow.*` tags read-only, long values folded) and "register model".
 */
import { useState } from "preact/hooks";
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
export function Notes({ run, onSaved, onError }: { run: Run; onSaved: () => void; onError: OnError }) {
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
  { run, onChanged, onError }: { run: Run; onChanged: () => void; onError: OnError },
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

/** Registers the run's model artifact as a new version of a (new or existing) registered model. */
export function Register(
  { run, navigate, onError }: { run: Run; navigate: Navigate; onError: OnError },
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
