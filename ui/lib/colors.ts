/**
 * Run colours: each run keeps one colour everywhere (table swatch, Charts tab, Compare, parallel coordinates).
 * A run gets the next palette colour the first time the UI shows it, and the choice is remembered in
 * localStorage, so neighbours in a table differ and the colour survives reloads. Not a per-chart palette.
 */

/** Tableau 10, then its lighter/darker companions (Tableau 20 order), so 20 runs in a row differ. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#79706e",
  "#a0cbe8",
  "#ffbe7d",
  "#8cd17d",
  "#b6992d",
  "#499894",
  "#86bcb6",
  "#d37295",
  "#fabfd2",
  "#d4a6c8",
  "#d7b5a6",
];

/** Colour of the i-th item of a list (for things that are not runs, e.g. a MoE layer's experts). */
export const colorAt = (i: number): string => PALETTE[i % PALETTE.length];

const KEY = "storyteller.runColors";
/** Runs remembered; older assignments are forgotten first (a 10k-run table must not fill localStorage). */
const KEEP = 5000;

interface Registry {
  next: number;
  /** run id → palette index, in assignment order. */
  colors: Map<string, number>;
}

let registry: Registry | null = null;
let saveTimer: ReturnType<typeof setTimeout> | undefined;

function load(): Registry {
  if (registry) return registry;
  registry = { next: 0, colors: new Map() };
  try {
    const j = JSON.parse(globalThis.localStorage?.getItem(KEY) ?? "null");
    if (j && Array.isArray(j.colors)) {
      registry = { next: Number(j.next) || 0, colors: new Map(j.colors) };
    }
  } catch { /* storage unavailable or corrupt: start over */ }
  return registry;
}

function save() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => {
    const r = load();
    while (r.colors.size > KEEP) r.colors.delete(r.colors.keys().next().value!);
    try {
      globalThis.localStorage?.setItem(KEY, JSON.stringify({ next: r.next, colors: [...r.colors] }));
    } catch { /* quota or private mode: colours stay stable for this page's life */ }
  }, 200);
}

/** The colour of a run, assigning the next palette colour on first sight. */
export function runColor(runId: string): string {
  const r = load();
  let i = r.colors.get(runId);
  if (i === undefined) {
    i = r.next % PALETTE.length;
    r.next = (r.next + 1) % PALETTE.length;
    r.colors.set(runId, i);
    save();
  }
  return PALETTE[i];
}

/**
 * Assigns colours to runs in display order before anything draws them, so runs shown together (a compare set,
 * the first rows of a table) get neighbouring, distinct colours.
 */
export function assignColors(runIds: readonly string[]): void {
  for (const id of runIds) runColor(id);
}
