/**
 * The MLflow dataset inputs of a training run: its training text and, when there is any, its validation text,
 * built from what prepareData already knows (DataStats.datasets), so no corpus is read again. Not the logging
 * itself (tracking.ts) and not the digest (src/data/prepare.ts).
 */
import { pathToFileURL } from "node:url";
import type { DataStats } from "../data/mod.ts";
import type { DatasetInput } from "../tracking/mod.ts";

type DataSplit = DataStats["datasets"]["training"];
type SourceIdentity = DataSplit["sources"][number];

/** The input tag MLflow names a dataset's role with (`training`, `validation`). */
export const CONTEXT_TAG = "mlflow.data.context";

/** MLflow's limits on a dataset's name and source (spec §1.5.1). */
const MAX_NAME = 500;
const MAX_SOURCE = 65535;

/** A document is one string column, in the shape MLflow's pandas datasets write their schema. */
const SCHEMA = pyJson({ mlflow_colspec: [{ type: "string", name: "text", required: true }] });

/**
 * The run's dataset inputs: `training`, then `validation` when the run has validation text. Each has the split's
 * name and digest, its source (`local` for one file, `code` for the built-in generator, `storyteller` for
 * several sources), a one-column text schema, and a profile with its document and token counts.
 *
 * @example
 * ```ts
 * const inputs = datasetInputs(data.stats);
 * await client.logInputs(runId, { datasets: inputs });
 * ```
 */
export function datasetInputs(stats: Pick<DataStats, "datasets">): DatasetInput[] {
  const { training, validation } = stats.datasets;
  const out = [datasetInput(training, "training")];
  if (validation) out.push(datasetInput(validation, "validation"));
  return out;
}

function datasetInput(split: DataSplit, context: string): DatasetInput {
  const { sourceType, source } = datasetSource(split.sources);
  return {
    dataset: {
      name: split.name.length > MAX_NAME ? split.name.slice(0, MAX_NAME - 1) + "…" : split.name,
      digest: split.digest,
      sourceType,
      source,
      schema: SCHEMA,
      profile: pyJson({ num_documents: split.docs, num_tokens: split.tokens }),
    },
    tags: { [CONTEXT_TAG]: context },
  };
}

/**
 * Where a split's text came from, as MLflow's source_type and source JSON: one file is MLflow's own `local`
 * source (`{"uri": "file:///abs/path"}`); the built-in generator alone is a `code` source whose tags carry the
 * generator's parameters; anything else (a glob or directory, several specs, files and the generator mixed) is
 * a `storyteller` source listing every source's URI (`file:///…`, `builtin:stories?stories=N&seed=S&version=V`),
 * the list cut short with a `more` count where it would pass MLflow's 65535-character limit.
 */
export function datasetSource(sources: readonly SourceIdentity[]): { sourceType: string; source: string } {
  if (sources.length === 1 && sources[0].kind === "file") {
    return { sourceType: "local", source: pyJson({ uri: sourceUri(sources[0]) }) };
  }
  if (sources.length === 1 && sources[0].kind === "builtin") {
    const s = sources[0];
    const tags = {
      "mlflow.source.name": "storyteller builtin:stories",
      "mlflow.source.type": "LOCAL",
      "storyteller.stories": String(s.stories),
      "storyteller.seed": String(s.seed),
      "storyteller.generator_version": String(s.generator),
    };
    return { sourceType: "code", source: pyJson({ tags }) };
  }
  const uris = sources.map(sourceUri);
  const budget = MAX_SOURCE - 40; // room for the braces, the key names and the `more` count
  let kept = 0;
  for (let size = 0; kept < uris.length; kept++) {
    size += pyJson(uris[kept]).length + 2;
    if (size > budget) break;
  }
  const json = kept === uris.length ? { uris } : { uris: uris.slice(0, kept), more: uris.length - kept };
  return { sourceType: "storyteller", source: pyJson(json) };
}

/**
 * JSON as Python's `json.dumps` writes it, which is how MLflow stores a dataset's source, schema and profile:
 * `", "` and `": "` between items, and every character past `~` escaped (ensure_ascii).
 */
export function pyJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `file:///abs/path` (percent-encoded), or `builtin:stories?stories=N&seed=S&version=V`. */
function sourceUri(s: SourceIdentity): string {
  return s.kind === "file"
    ? pathToFileURL(s.path).href
    : `builtin:stories?stories=${s.stories}&seed=${s.seed}&version=${s.generator}`;
}
