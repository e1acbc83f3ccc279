/**
 * A response cache for `runs/search`: the FileStore re-checks every run's meta.yaml on each search (10k stats
 * over 10k runs), which under 50 concurrent clients serialises the event loop. A cached body is reused while
 * (a) no write went through this server, (b) each searched experiment's directory mtime and storyteller journal
 * size are unchanged (every FileStore writer — `storyteller train` included — appends to that journal), and
 * (c) it is younger than `ttlMs`, which bounds staleness for foreign writers (e.g. real MLflow writing mlruns).
 */
import { join } from "node:path";

/** The FileStore's per-experiment change journal (src/tracking/file_runs.ts JOURNAL). */
const JOURNAL = ".storyteller-journal";

interface Entry {
  stamp: string;
  at: number;
  body: string;
}

function statKey(path: string): string {
  try {
    const st = Deno.statSync(path);
    return `${st.mtime?.getTime() ?? 0}:${st.size}`;
  } catch {
    return "-";
  }
}

/** Caches serialized search responses keyed by request, validated by a cheap store stamp. */
export class SearchCache {
  #entries = new Map<string, Entry>();
  #generation = 0;
  readonly #root: string;
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(root: string, ttlMs = 10_000, maxEntries = 256) {
    this.#root = root;
    this.#ttlMs = ttlMs;
    this.#max = maxEntries;
  }

  /** Marks every entry stale (called after any write request). */
  bump(): void {
    this.#generation++;
    this.#entries.clear();
  }

  /** The current stamp of the given experiments (two stats each); take it BEFORE computing a response. */
  stamp(experimentIds: string[]): string {
    const parts = [String(this.#generation)];
    for (const id of experimentIds) {
      for (const dir of [join(this.#root, id), join(this.#root, ".trash", id)]) {
        parts.push(statKey(dir), statKey(join(dir, JOURNAL)));
      }
    }
    return parts.join("|");
  }

  get(key: string, stamp: string): string | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.stamp !== stamp || performance.now() - e.at > this.#ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.body;
  }

  set(key: string, stamp: string, body: string): void {
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { stamp, at: performance.now(), body });
  }
}
