/**
 * The last view of each experiment (filter, sort, columns, tab, chart settings — not the selection), so opening
 * an experiment from the sidebar or a breadcrumb comes back to it. Kept in localStorage; the URL stays the truth
 * for the view on screen.
 */

const KEY = "storyteller.views";
/** Experiments remembered (most recent first). */
const KEEP = 50;

function all(): [string, string][] {
  try {
    const j = JSON.parse(globalThis.localStorage?.getItem(KEY) ?? "[]");
    return Array.isArray(j) ? j : [];
  } catch {
    return [];
  }
}

/** Remembers the query (`q=…&sort=…`, without `sel`) of an experiment view; "" forgets it. */
export function rememberView(experiments: string, query: string): void {
  const sp = new URLSearchParams(query);
  sp.delete("sel");
  const rest = all().filter(([k]) => k !== experiments).slice(0, KEEP - 1);
  const q = sp.toString();
  try {
    globalThis.localStorage?.setItem(KEY, JSON.stringify(q ? [[experiments, q], ...rest] : rest));
  } catch { /* storage unavailable: nothing remembered */ }
}

/** The remembered query of an experiment view ("" when none). */
export function recallView(experiments: string): string {
  return all().find(([k]) => k === experiments)?.[1] ?? "";
}
