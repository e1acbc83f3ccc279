/**
 * Live run lists: loads every run of some experiments page by page (first page rendered at once), then polls
 * `/api/storyteller/changes` and merges changed runs in place — the table keeps its scroll, sort and selection.
 */
import * as api from "./api.ts";
import { mergeRuns, type Run } from "./runs.ts";

export interface LiveState {
  runs: Run[];
  loading: boolean;
  error?: string;
}

const FIRST_PAGE = 500;
const PAGE = 5000;
const POLL_MS = 2000;

/**
 * Starts loading and polling; `emit` gets every new state. Returns a stop function.
 * `showDeleted` includes deleted runs (view type ALL).
 */
export function watchRuns(
  experimentIds: string[],
  showDeleted: boolean,
  emit: (s: LiveState) => void,
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let state: LiveState = { runs: [], loading: true };
  const set = (patch: Partial<LiveState>) => {
    if (stopped) return;
    state = { ...state, ...patch };
    emit(state);
  };
  const keep = (r: Run) => showDeleted || r.info.lifecycleStage === "active";

  async function loadAll(): Promise<{ epoch: string; version: number } | null> {
    // The version is asked for alongside the first page (not before it, which would delay the first rows by a
    // full server scan): a run changing in that instant is re-sent on its next change.
    const version = api.changes(experimentIds, -1);
    version.catch(() => {}); // awaited below; a failed search must not leave it an unhandled rejection
    const all: Run[] = [];
    let token: string | undefined;
    let first = true;
    do {
      const page = await api.searchRuns(experimentIds, {
        viewType: showDeleted ? "ALL" : "ACTIVE_ONLY",
        pageToken: token,
        maxResults: first ? FIRST_PAGE : PAGE,
      });
      if (stopped) return null;
      all.push(...page.runs);
      token = page.next;
      first = false;
      set({ runs: all.slice(), loading: !!token });
    } while (token);
    return await version;
  }

  async function run() {
    let cursor: { epoch: string; version: number } | null;
    try {
      cursor = await loadAll();
    } catch (err) {
      set({ loading: false, error: (err as Error).message });
      return;
    }
    const poll = async () => {
      if (stopped || !cursor) return;
      try {
        if (document.visibilityState !== "hidden") {
          const c = await api.changes(experimentIds, cursor.version);
          if (c.epoch !== cursor.epoch) {
            cursor = await loadAll(); // the server restarted: versions start over
          } else if (c.runs.length || c.removed.length) {
            const gone = [...c.removed, ...c.runs.filter((r) => !keep(r)).map((r) => r.info.runId)];
            set({
              runs: mergeRuns(state.runs, c.runs.filter(keep), gone),
              error: undefined,
            });
            cursor = { epoch: c.epoch, version: c.version };
          } else cursor = { epoch: c.epoch, version: c.version };
        }
      } catch (err) {
        set({ error: `live updates paused: ${(err as Error).message}` });
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    timer = setTimeout(poll, POLL_MS);
  }
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
