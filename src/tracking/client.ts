/** `openTracking`: the TrackingClient for a tracking URI (explicit, MLFLOW_TRACKING_URI, or ./mlruns). */
import { FileStore } from "./file_store.ts";
import { RestClient, type RestClientOptions } from "./rest_client.ts";
import type { TrackingClient } from "./types.ts";
import { resolveTrackingUri } from "./uri.ts";

const stores = new Map<string, FileStore>();

/**
 * Opens the store behind a tracking URI: a path or `file:` URI → FileStore (one per root and process, so its
 * read index is shared), `http(s):` → RestClient.
 *
 * @example
 * ```ts
 * const client = openTracking("./mlruns");
 * const expId = (await client.getExperimentByName("storyteller"))?.experimentId ??
 *   await client.createExperiment("storyteller");
 * ```
 */
export function openTracking(uri?: string, options: RestClientOptions = {}): TrackingClient {
  const target = resolveTrackingUri(uri);
  if (target.kind === "http") return new RestClient(target.url, options);
  let store = stores.get(target.root);
  if (!store) {
    store = new FileStore(target.root);
    stores.set(target.root, store);
  }
  return store;
}

/** The experiment with this name, created when missing (safe when several processes race to create it). */
export async function getOrCreateExperiment(client: TrackingClient, name: string): Promise<string> {
  const found = await client.getExperimentByName(name);
  if (found) return found.experimentId;
  try {
    return await client.createExperiment(name);
  } catch (err) {
    const again = await client.getExperimentByName(name);
    if (again) return again.experimentId;
    throw err;
  }
}
