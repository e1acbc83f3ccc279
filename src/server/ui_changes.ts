/**
 * `GET /api/storyteller/changes`: the cheap "what changed since" poll behind live updates. The server keeps a
 * fingerprint per run (status, end time, lifecycle, name, latest metric steps/timestamps, param and tag sizes,
 * dataset inputs) and a version counter; a client sends the version it has seen and gets back only the runs that changed.
 */
import { Hono } from "hono";
import {
  proto,
  type Run,
  type TrackingClient,
  TrackingError,
  validateExperimentId,
} from "../tracking/mod.ts";

interface Tracked {
  version: number;
  /** runId → [fingerprint, version of its last change]. */
  prints: Map<string, [string, number]>;
  removed: Map<string, number>;
  scannedAt: number;
  runs: Map<string, Run>;
}

/** How long one scan answers every poll of the same experiments (ms). */
const SCAN_REUSE_MS = 750;
/** Experiment selections tracked at once (least recently polled dropped first; a dropped one starts over). */
const MAX_TRACKED = 32;
/** Experiments one poll may name. */
const MAX_IDS = 1000;

function fingerprint(r: Run): string {
  let m = 0, tagLen = 0, paramLen = 0;
  for (const k in r.data.metrics) {
    const x = r.data.metrics[k];
    m = (m * 31 + x.step * 7 + x.timestamp + (Number.isFinite(x.value) ? x.value : 0)) % 1e15;
  }
  for (const k in r.data.tags) tagLen += k.length + r.data.tags[k].length * 3 + 1;
  for (const k in r.data.params) paramLen += k.length + r.data.params[k].length + 1;
  const i = r.info;
  const inputs = r.inputs?.datasetInputs.length ?? 0;
  return `${i.status}|${i.endTime}|${i.lifecycleStage}|${i.runName}|${m}|${tagLen}|${paramLen}|${inputs}`;
}

async function scanAll(client: TrackingClient, experimentIds: string[]): Promise<Run[]> {
  const out: Run[] = [];
  let pageToken: string | undefined;
  do {
    const page = await client.searchRuns({ experimentIds, viewType: "ALL", maxResults: 50_000, pageToken });
    out.push(...page.runs);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}

/** The poll route; `epoch` changes when the server restarts, telling clients to reload instead of merging. */
export function changesApp(client: TrackingClient): Hono {
  const app = new Hono();
  const epoch = crypto.randomUUID().slice(0, 8);
  const tracked = new Map<string, Tracked>();

  /** `ids` are validated, sorted and unique, so one selection has one key however it is spelled. */
  async function refresh(ids: string[]): Promise<Tracked> {
    const key = ids.join(",");
    let t = tracked.get(key);
    if (t) {
      tracked.delete(key); // re-inserted below: Map order is the LRU order
      tracked.set(key, t);
      if (Date.now() - t.scannedAt < SCAN_REUSE_MS) return t;
    }
    const runs = await scanAll(client, ids);
    if (!t) {
      t = { version: 1, prints: new Map(), removed: new Map(), scannedAt: 0, runs: new Map() };
      while (tracked.size >= MAX_TRACKED) tracked.delete(tracked.keys().next().value!);
      tracked.set(key, t);
    }
    const next = t.version + 1;
    let changed = false;
    const seen = new Set<string>();
    for (const r of runs) {
      const id = r.info.runId;
      seen.add(id);
      const fp = fingerprint(r);
      const old = t.prints.get(id);
      if (!old || old[0] !== fp) {
        t.prints.set(id, [fp, next]);
        changed = true;
      }
      t.runs.set(id, r);
      t.removed.delete(id);
    }
    for (const id of t.prints.keys()) {
      if (!seen.has(id)) {
        t.prints.delete(id);
        t.runs.delete(id);
        t.removed.set(id, next);
        changed = true;
      }
    }
    if (changed) t.version = next;
    t.scannedAt = Date.now();
    return t;
  }

  app.get("/api/storyteller/changes", async (c) => {
    const ids = [...new Set((c.req.query("experiment_ids") ?? "").split(",").filter((s) => s))].sort();
    if (ids.length === 0) {
      throw new TrackingError("INVALID_PARAMETER_VALUE", "Cannot poll for changes: experiment_ids is empty", {
        hint: "GET /api/storyteller/changes?experiment_ids=0,1&since=<version>",
      });
    }
    if (ids.length > MAX_IDS) {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        `Cannot poll for changes: ${ids.length} experiment_ids given, at most ${MAX_IDS} are allowed`,
      );
    }
    // Before anything is cached: `./E` or `../../x/mlruns/E` is not an experiment id.
    for (const id of ids) validateExperimentId(id);
    const sinceText = c.req.query("since") ?? "-1";
    const since = Number(sinceText);
    if (!Number.isInteger(since)) {
      throw new TrackingError("INVALID_PARAMETER_VALUE", `Cannot poll for changes: since='${sinceText}'`, {
        hint: "since is the version a previous poll returned, or -1 for just the current version",
      });
    }
    const t = await refresh(ids);
    const runs: unknown[] = [];
    const removed: string[] = [];
    if (since >= 0) {
      for (const [id, [, v]] of t.prints) if (v > since) runs.push(proto.runToJson(t.runs.get(id)!));
      for (const [id, v] of t.removed) if (v > since) removed.push(id);
    }
    return c.json({ epoch, version: t.version, runs, removed });
  });
  return app;
}
