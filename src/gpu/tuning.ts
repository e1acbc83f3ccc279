/**
 * The tuning table of one open device: which variant of a kernel family runs each shape, as timed on this adapter
 * (src/kernels/tune.ts does the timing). A launcher asks `choice()` while recording — synchronous, so a shape seen
 * for the first time runs its default and is queued as `pending` for the tuner to time before the next step. The
 * table persists per adapter, driver description and kernel source in the user's cache directory; not the place
 * for the timing itself or for any kernel's candidates.
 */
import { dirname, join } from "node:path";

/** One shape a launcher met without a tuned choice: what the tuner needs to time its candidates. */
export interface TuningRequest {
  family: string;
  /** The shape class inside the family (the table's key with the family). */
  shape: string;
  /** Family-specific arguments that recreate the call (shapes, flags); plain JSON. */
  spec: Record<string, number | boolean | string>;
  /** The candidates, in the family's order; the first is what ran untuned. */
  candidates: string[];
}

/** What the tuner found for one shape: every candidate's time and the winner. */
export interface TuningResult {
  variant: string;
  /** Microseconds per call, by candidate. */
  times: Record<string, number>;
}

/** The file a cache is kept in, and the key of this adapter's section of it. */
export interface TuningCacheRef {
  path: string;
  adapterKey: string;
}

/** Cache file layout version: a file of another version is ignored (and rewritten on the next save). */
const CACHE_VERSION = 1;

/** Per-device table of tuned kernel choices. */
export class TuningTable {
  #choices = new Map<string, TuningResult>();
  #pending = new Map<string, TuningRequest>();
  #cache: TuningCacheRef | undefined;
  #used = new Map<string, string>();

  /** Whether a launcher met shapes the tuner has not timed (they ran their default). */
  get pending(): TuningRequest[] {
    return [...this.#pending.values()];
  }

  /** The variant each shape asked for since the device opened ran (`family/shape` → variant): what a run used. */
  get used(): [string, string][] {
    return [...this.#used.entries()];
  }

  /** Every tuned choice, keyed `family/shape`. */
  get entries(): [string, TuningResult][] {
    return [...this.#choices.entries()];
  }

  /**
   * The variant to run for `family`/`shape`: the tuned one, else `candidates[0]`. With `tune` (off for callers that
   * time candidates themselves or run once), an untuned shape is queued for the tuner.
   */
  choice(
    family: string,
    shape: string,
    candidates: string[],
    spec: TuningRequest["spec"],
    tune = true,
  ): string {
    const key = `${family}/${shape}`;
    const hit = this.#choices.get(key);
    // A choice counts only if it was made among these very candidates: a variant added since (a new kernel) or one
    // this adapter cannot run now sends the shape back to the tuner.
    if (hit && candidates.includes(hit.variant) && candidates.every((c) => c in hit.times)) {
      this.#used.set(key, hit.variant);
      return hit.variant;
    }
    if (tune && candidates.length > 1 && !this.#pending.has(key)) {
      this.#pending.set(key, { family, shape, spec, candidates });
    }
    this.#used.set(key, candidates[0]);
    return candidates[0];
  }

  /** Records the tuner's result for a shape (and drops it from the pending list). */
  set(family: string, shape: string, result: TuningResult): void {
    const key = `${family}/${shape}`;
    this.#choices.set(key, result);
    this.#pending.delete(key);
  }

  /** Forgets every tuned choice of this adapter (the next save drops them from the cache too). */
  forget(): void {
    this.#choices.clear();
  }

  /** Forgets what was queued (a caller that will not tune, e.g. a one-off run). */
  clearPending(): void {
    this.#pending.clear();
  }

  /**
   * Loads this adapter's section of the cache at `ref.path` and saves there from now on. A missing file is an
   * empty cache; an unreadable or corrupt one is ignored with a warning (and replaced on the next save).
   */
  attach(ref: TuningCacheRef, warn: (message: string) => void): void {
    this.#cache = ref;
    let text: string;
    try {
      text = Deno.readTextFileSync(ref.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        warn(`ignoring the kernel tuning cache ${ref.path}: ${(err as Error).message}`);
      }
      return;
    }
    const file = parseCache(text);
    if (!file) {
      warn(
        `ignoring the kernel tuning cache ${ref.path}: it is not a storyteller tuning file (it will be rewritten)`,
      );
      return;
    }
    for (const [key, result] of Object.entries(file.adapters[ref.adapterKey] ?? {})) {
      if (isResult(result)) this.#choices.set(key, result);
    }
  }

  /** Writes the table into its cache file (atomically; other adapters' sections are kept). No cache: nothing. */
  save(warn: (message: string) => void): void {
    if (!this.#cache) return;
    const { path, adapterKey } = this.#cache;
    try {
      let file: CacheFile = { version: CACHE_VERSION, adapters: {} };
      try {
        file = parseCache(Deno.readTextFileSync(path)) ?? file;
      } catch { /* missing or unreadable: start afresh */ }
      file.adapters[adapterKey] = Object.fromEntries(this.#choices);
      Deno.mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.tmp-${Deno.pid}`;
      Deno.writeTextFileSync(tmp, JSON.stringify(file, null, 1) + "\n");
      Deno.renameSync(tmp, path);
    } catch (err) {
      warn(`could not save the kernel tuning cache ${path}: ${(err as Error).message}`);
    }
  }
}

interface CacheFile {
  version: number;
  adapters: Record<string, Record<string, TuningResult>>;
}

function parseCache(text: string): CacheFile | null {
  try {
    const v = JSON.parse(text);
    if (v && v.version === CACHE_VERSION && v.adapters && typeof v.adapters === "object") {
      return v as CacheFile;
    }
  } catch { /* not JSON */ }
  return null;
}

function isResult(v: unknown): v is TuningResult {
  const r = v as TuningResult;
  return !!r && typeof r.variant === "string" && !!r.times && typeof r.times === "object";
}

/**
 * Where the tuning cache lives: STORYTELLER_TUNING_CACHE if set (a file path; "off" disables the cache), else
 * storyteller/tuning.json in the platform's cache directory. Null when caching is off or no directory is known.
 */
export function tuningCachePath(): string | null {
  const env = (name: string) => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined;
    }
  };
  const explicit = env("STORYTELLER_TUNING_CACHE");
  if (explicit) return explicit === "off" ? null : explicit;
  let base: string | undefined;
  if (Deno.build.os === "windows") base = env("LOCALAPPDATA");
  else if (Deno.build.os === "darwin") base = env("HOME") && join(env("HOME")!, "Library", "Caches");
  else base = env("XDG_CACHE_HOME") ?? (env("HOME") && join(env("HOME")!, ".cache"));
  return base ? join(base, "storyteller", "tuning.json") : null;
}
