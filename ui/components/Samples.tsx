/**
 * The story samples of a run (`samples/step_N.txt`, one per evaluation) in step order, step → text, so the
 * stories can be read improving. Long runs show 30 spread from first to last, or all on request; texts are
 * fetched once and new ones picked up while the run is live. Not the artifact browser's preview.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "../lib/api.ts";
import { parseSamples, type SampleFile, sampleFiles, spreadSamples } from "../lib/samples.ts";

const SHOWN = 30;

interface Props {
  runId: string;
  /** The prompt the samples start with (param `training.sample_prompt`), shown in bold. */
  prompt?: string;
  /** Changes while the run is live: the list is read again. */
  tick?: number;
}

async function fetchText(runId: string, path: string): Promise<string> {
  const r = await fetch(api.artifactUrl(runId, path, { preview: true }));
  const body = await r.text();
  if (!r.ok) throw new Error(`Cannot read ${path}: HTTP ${r.status}`);
  return body;
}

function SampleText({ text, prompt }: { text: string; prompt?: string }) {
  const lines = parseSamples(text);
  if (lines) return <>{lines.map((l, i) => <p key={i}>{l.text}</p>)}</>;
  const t = text.trimEnd();
  if (prompt && t.startsWith(prompt)) {
    return (
      <p>
        <b class="prompt">{prompt}</b>
        {t.slice(prompt.length)}
      </p>
    );
  }
  return <p>{t}</p>;
}

/** The Samples section; nothing when the run has no samples. Mount it with `key={runId}`. */
export function Samples({ runId, prompt, tick = 0 }: Props) {
  const [files, setFiles] = useState<SampleFile[] | null>(null);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [all, setAll] = useState(false);
  const [error, setError] = useState("");
  const asked = useRef(new Set<string>());

  useEffect(() => {
    let stop = false;
    api.listArtifacts(runId, "samples").then((entries) => {
      if (!stop) setFiles(sampleFiles(entries.filter((e) => !e.isDir).map((e) => e.path)));
    }, (e) => !stop && setError(e.message));
    return () => {
      stop = true;
    };
  }, [runId, tick]);

  const shown = files ? (all ? files : spreadSamples(files, SHOWN)) : [];
  useEffect(() => {
    for (const f of shown) {
      if (asked.current.has(f.path)) continue;
      asked.current.add(f.path);
      fetchText(runId, f.path).then(
        (t) => setTexts((x) => ({ ...x, [f.path]: t })),
        (e) => setTexts((x) => ({ ...x, [f.path]: `(${e.message})` })),
      );
    }
  }, [runId, shown.map((f) => f.path).join("\n")]);

  if (error) return null; // no samples/ folder, or no artifact access: the artifact browser says why
  if (!files || files.length === 0) return null;
  return (
    <section class="samples">
      <h3>
        Samples <span class="dim">({files.length})</span>
      </h3>
      <table class="kv samples-table">
        <tbody>
          {shown.map((f) => (
            <tr key={f.path} data-step={f.step}>
              <td class="step">step {f.step.toLocaleString()}</td>
              <td class="sample-text">
                {texts[f.path] === undefined
                  ? <span class="dim">loading…</span>
                  : <SampleText text={texts[f.path]} prompt={prompt} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {files.length > shown.length && (
        <button type="button" onClick={() => setAll(true)}>
          show all {files.length} samples
        </button>
      )}
    </section>
  );
}
