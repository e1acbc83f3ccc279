/**
 * The artifacts browser of a run: a lazily expanded tree with sizes and download links, and a preview pane for
 * text, YAML, JSON (pretty-printed), images and the story samples (`*.jsonl`/`*.txt` under samples/).
 */
import { useEffect, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import { formatBytes } from "../lib/format.ts";
import { parseSamples } from "../lib/samples.ts";

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
const TEXT = /\.(txt|log|md|ya?ml|json|jsonl|csv|py|ts)$|(^|\/)(MLmodel|README|LICENSE)$/i;

function Tree({ runId, path, onPick, picked }: {
  runId: string;
  path: string;
  onPick: (f: api.ArtifactEntry) => void;
  picked?: string;
}) {
  const [entries, setEntries] = useState<api.ArtifactEntry[] | null>(null);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [error, setError] = useState("");
  useEffect(() => {
    api.listArtifacts(runId, path).then(setEntries, (e) => setError(e.message));
  }, [runId, path]);
  if (error) return <div class="error">{error}</div>;
  if (!entries) return <div class="dim">loading…</div>;
  if (!entries.length && !path) return <div class="dim">No artifacts.</div>;
  return (
    <ul class="tree">
      {entries.map((e) => {
        const name = e.path.split("/").pop();
        if (e.isDir) {
          const isOpen = open.has(e.path);
          return (
            <li key={e.path}>
              <button
                type="button"
                class="link"
                onClick={() => {
                  const n = new Set(open);
                  if (isOpen) n.delete(e.path);
                  else n.add(e.path);
                  setOpen(n);
                }}
              >
                {isOpen ? "▾" : "▸"} {name}/
              </button>
              {isOpen && <Tree runId={runId} path={e.path} onPick={onPick} picked={picked} />}
            </li>
          );
        }
        return (
          <li key={e.path} class={picked === e.path ? "picked" : ""}>
            <button type="button" class="link" onClick={() => onPick(e)}>{name}</button>{" "}
            <span class="dim">{formatBytes(e.size)}</span>{" "}
            <a href={api.artifactUrl(runId, e.path, { download: true })} title="download">⬇</a>
          </li>
        );
      })}
    </ul>
  );
}

function Preview({ runId, file }: { runId: string; file: api.ArtifactEntry }) {
  const [text, setText] = useState<string | null>(null);
  const [note, setNote] = useState("");
  const url = api.artifactUrl(runId, file.path, { preview: true });
  useEffect(() => {
    setText(null);
    setNote("");
    if (!TEXT.test(file.path)) return;
    fetch(url).then(async (r) => {
      const body = await r.text();
      const truncated = r.headers.get("X-Storyteller-Truncated");
      if (truncated) setNote(`first 512 KiB of ${formatBytes(Number(truncated))}`);
      if (!r.ok) return setText(`Cannot preview: ${body}`);
      if (/\.json$/i.test(file.path) && !truncated) {
        try {
          return setText(JSON.stringify(JSON.parse(body), null, 2));
        } catch { /* show it raw */ }
      }
      setText(body);
    }, (e) => setText(`Cannot preview: ${e.message}`));
  }, [url]);
  const samples = /\.jsonl$/i.test(file.path) && text !== null ? parseSamples(text) : null;
  return (
    <div class="preview">
      <div class="preview-head">
        <b>{file.path}</b> <span class="dim">{formatBytes(file.size)} {note}</span>{" "}
        <a href={api.artifactUrl(runId, file.path, { download: true })}>download</a>
      </div>
      {IMAGE.test(file.path) && <img src={url} alt={file.path} />}
      {samples
        ? samples.map((s, i) => (
          <div class="sample" key={i}>
            {s.meta && <div class="dim">{s.meta}</div>}
            <p>{s.text}</p>
          </div>
        ))
        : text !== null && <pre class="text-preview">{text}</pre>}
      {!IMAGE.test(file.path) && !TEXT.test(file.path) && <p class="dim">No preview for this file type.</p>}
    </div>
  );
}

/** The artifacts component. */
export function Artifacts({ runId }: { runId: string }) {
  const [picked, setPicked] = useState<api.ArtifactEntry | null>(null);
  return (
    <div class="artifacts">
      <Tree runId={runId} path="" onPick={setPicked} picked={picked?.path} />
      {picked
        ? <Preview runId={runId} file={picked} />
        : <div class="preview dim">Pick a file to preview it.</div>}
    </div>
  );
}
