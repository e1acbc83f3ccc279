/**
 * Metric families: keys grouped by their prefix (`train/…`, `val/…`, `moe/…`), train and val first with their
 * `loss` leading, numbers inside names in numeric order (`layer_2` before `layer_10`); which keys get a chart
 * by default; and the MoE router layout (`moe/layer_X_expert_E_fraction`) for the expert-balance charts.
 */

/** The family of keys without a `/`. */
export const PLAIN_FAMILY = "";

/** One family: its prefix (`train`, `moe`, or PLAIN_FAMILY) and its keys in display order. */
export interface MetricFamily {
  name: string;
  keys: string[];
}

/** Families charted by default (with un-prefixed keys); the others are charted on demand. */
const CHARTED = new Set(["train", "val", PLAIN_FAMILY]);
/** Families listed first, in this order. */
const LEADING = ["train", "val"];

const collator = new Intl.Collator("en", { numeric: true });

/** The family of a key: the text before its first `/` (or `sep`; PLAIN_FAMILY when there is none). */
export function familyOf(key: string, sep = "/"): string {
  const i = key.indexOf(sep);
  return i > 0 ? key.slice(0, i) : PLAIN_FAMILY;
}

/** Compares keys inside a family: `…/loss` first, then natural order (`layer_2` < `layer_10`). */
export function compareKeys(a: string, b: string): number {
  const la = a.endsWith("/loss") || a === "loss", lb = b.endsWith("/loss") || b === "loss";
  if (la !== lb) return la ? -1 : 1;
  return collator.compare(a, b);
}

function familyRank(name: string): [number, string] {
  const i = LEADING.indexOf(name);
  if (i >= 0) return [i, name];
  return [name === PLAIN_FAMILY ? LEADING.length + 1 : LEADING.length, name];
}

/** Groups keys by family: train, val, the rest by name, un-prefixed keys last (params: `sep` = "."). */
export function groupMetrics(keys: Iterable<string>, sep = "/"): MetricFamily[] {
  const by = new Map<string, string[]>();
  for (const k of keys) {
    const f = familyOf(k, sep);
    const list = by.get(f);
    if (list) list.push(k);
    else by.set(f, [k]);
  }
  return [...by.entries()]
    .sort(([a], [b]) => {
      const [ra, na] = familyRank(a), [rb, nb] = familyRank(b);
      return ra - rb || collator.compare(na, nb);
    })
    .map(([name, list]) => ({ name, keys: [...new Set(list)].sort(compareKeys) }));
}

/** Keys in family order (train/loss, the rest of train/, val/loss, …). */
export function orderMetrics(keys: Iterable<string>): string[] {
  return groupMetrics(keys).flatMap((f) => f.keys);
}

/** Whether a family gets one chart per member by default. */
export const chartedByDefault = (family: string): boolean => CHARTED.has(family);

/** The keys charted when the user chose none: every train/, val/ and un-prefixed key, in family order. */
export function defaultChartKeys(keys: Iterable<string>): string[] {
  return groupMetrics(keys).filter((f) => chartedByDefault(f.name)).flatMap((f) => f.keys);
}

/** The headline keys for tables: the losses first, then the rest of train/ and val/. */
export function headlineKeys(keys: Iterable<string>, n: number): string[] {
  const all = orderMetrics(keys);
  const losses: string[] = all.filter((k) => k === "train/loss" || k === "val/loss");
  const rest = defaultChartKeys(all).filter((k) => !losses.includes(k));
  const pick = [...losses, ...rest];
  return (pick.length ? pick : all).slice(0, n);
}

/** Label of a family for headings. */
export function familyLabel(name: string, sep = "/"): string {
  return name === PLAIN_FAMILY ? "other" : `${name}${sep}`;
}

/** One MoE layer's router metrics: per-expert fraction keys (expert order) and the balance key if logged. */
export interface MoeLayerKeys {
  layer: number;
  /** `moe/layer_X_expert_E_fraction` keys indexed by position; `experts[i]` is expert number `ids[i]`. */
  experts: string[];
  ids: number[];
  balance?: string;
  entropy?: string;
}

const FRACTION = /^moe\/layer_(\d+)_expert_(\d+)_fraction$/;
const LAYER_STAT = /^moe\/layer_(\d+)_(balance|entropy)$/;

/** The MoE layers found in a run's metric keys, by layer number (empty for a dense run). */
export function moeLayers(keys: Iterable<string>): MoeLayerKeys[] {
  const layers = new Map<number, MoeLayerKeys>();
  const layer = (n: number) => {
    let l = layers.get(n);
    if (!l) layers.set(n, l = { layer: n, experts: [], ids: [] });
    return l;
  };
  const fractions: [number, number, string][] = [];
  const stats: [number, string, string][] = [];
  for (const k of keys) {
    const f = FRACTION.exec(k);
    if (f) fractions.push([Number(f[1]), Number(f[2]), k]);
    const s = LAYER_STAT.exec(k);
    if (s) stats.push([Number(s[1]), s[2], k]);
  }
  fractions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [n, e, k] of fractions) {
    const l = layer(n);
    l.experts.push(k);
    l.ids.push(e);
  }
  for (const [n, what, k] of stats) {
    const l = layers.get(n);
    if (l) l[what as "balance" | "entropy"] = k;
  }
  return [...layers.values()].sort((a, b) => a.layer - b.layer);
}

/** How lopsided a layer's latest expert fractions are. */
export interface ExpertShare {
  /** Index (into MoeLayerKeys.experts) of the busiest expert. */
  top: number;
  /** Its fraction of the routed tokens (token-to-expert assignments; the fractions sum to 1). */
  share: number;
  /** The even share, 1 / experts. */
  uniform: number;
  /** The busiest expert is over halfway from its even share to the most it can take (1 / top_k). */
  imbalanced: boolean;
}

/**
 * The busiest expert among `fractions` (NaN and missing values ignored); undefined when none is known. With
 * top-k routing a token counts once for each of k distinct experts, so one expert takes at most 1/k.
 */
export function expertShare(fractions: (number | undefined)[], topK = 1): ExpertShare | undefined {
  let top = -1, share = -Infinity;
  fractions.forEach((f, i) => {
    if (f !== undefined && Number.isFinite(f) && f > share) {
      top = i;
      share = f;
    }
  });
  if (top < 0) return undefined;
  const uniform = 1 / fractions.length;
  const cap = 1 / Math.min(Math.max(1, topK), fractions.length);
  return { top, share, uniform, imbalanced: cap > uniform && share >= (uniform + cap) / 2 };
}
