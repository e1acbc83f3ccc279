/**
 * The model an export reads: `-m` resolved exactly as `generate` and `serve` resolve it (serve's loadModel), plus
 * the MLflow run it came from when one is known (a runs:/ URI or the MLmodel's run_id), for the model card.
 */
import { join } from "node:path";
import { type LoadedModel, loadModel } from "../serve/mod.ts";
import { openTracking, parseRunsUri, type Run } from "../tracking/mod.ts";
import { parsePyYaml } from "../yaml.ts";

/** A loaded model and, when found, its run. */
export interface ExportSource extends LoadedModel {
  runId?: string;
  /** The run's params, metrics and tags; absent when the tracking store does not have it. */
  run?: Run;
}

async function mlmodelRunId(dir: string): Promise<string | undefined> {
  try {
    const parsed = parsePyYaml(await Deno.readTextFile(join(dir, "MLmodel"))) as Record<string, unknown>;
    return typeof parsed?.run_id === "string" && parsed.run_id ? parsed.run_id : undefined;
  } catch {
    return undefined;
  }
}

/** Loads `uri` (a model directory, runs:/ or models:/ URI) and looks up its run, which is optional. */
export async function loadExportSource(
  uri: string,
  options: { trackingUri?: string } = {},
): Promise<ExportSource> {
  const loaded = await loadModel(uri, options);
  let runId: string | undefined;
  if (uri.startsWith("runs:")) {
    try {
      runId = parseRunsUri(uri).runId;
    } catch { /* loadModel accepted it; a malformed id only loses the card's run section */ }
  }
  runId ??= await mlmodelRunId(loaded.dir);
  let run: Run | undefined;
  if (runId) {
    try {
      run = await openTracking(options.trackingUri).getRun(runId);
    } catch { /* a model copied away from its store still exports, without run details */ }
  }
  return { ...loaded, runId, run };
}
