/**
 * What `mlflow.register_model(model_uri, name)` sends as a version's source: a `runs:/<run>/<path>` URI is resolved on
 * the client side, to the run's artifact URI of that path when it holds an MLmodel (the 2.x layout), else to the
 * run's logged model named `<path>` (`models:/m-…`, MLflow 3). Other URIs go as given.
 */
import { invalid } from "./errors.ts";
import type { TrackingClient } from "./types.ts";
import { appendToUri, parseRunsUri } from "./uri.ts";

/** A version's source and the run / logged model it came from. */
export interface RegistrationSource {
  source: string;
  runId?: string;
  modelId?: string;
}

/** Resolves `uri` the way MLflow 3's `register_model` does before `model-versions/create`. */
export async function registrationSource(client: TrackingClient, uri: string): Promise<RegistrationSource> {
  if (!uri.startsWith("runs:")) return { source: uri };
  const { runId, path } = parseRunsUri(uri);
  const run = await client.getRun(runId);
  const files = await client.listArtifacts(runId, path || undefined).catch(() => []);
  if (files.some((f) => !f.isDir && f.path.split("/").at(-1) === "MLmodel")) {
    return { source: appendToUri(run.info.artifactUri, path), runId };
  }
  const quote = path.includes("'") ? '"' : "'";
  const page = await client.searchLoggedModels({
    experimentIds: [run.info.experimentId],
    filterString: `source_run_id = '${runId}' AND name = ${quote}${path}${quote}`,
  });
  const model = page.models.find((m) => m.name === path);
  if (model) return { source: `models:/${model.modelId}`, runId, modelId: model.modelId };
  throw invalid(
    `Unable to find a logged_model with artifact_path ${path} under run ${runId}` +
      "\n  hint: the run has no MLmodel at that path and no logged model of that name",
  );
}
