/** Side-by-side rows for the Compare page: one row per param/metric key, flagged when the runs disagree. */
import type { Run } from "../../src/tracking/types.ts";
import { orderMetrics } from "./families.ts";

export interface CompareRow {
  key: string;
  /** One value per run, in the runs' order (undefined when the run lacks the key). */
  values: (string | number | undefined)[];
  differs: boolean;
}

/** Rows for params or metrics (latest values) of the runs: metrics in family order (train/loss first), the rest by key. */
export function compareRows(runs: Run[], kind: "params" | "metrics" | "tags"): CompareRow[] {
  const keys = new Set<string>();
  for (const r of runs) {
    for (const k in r.data[kind]) if (!(kind === "tags" && k.startsWith("mlflow."))) keys.add(k);
  }
  const ordered = kind === "metrics" ? orderMetrics(keys) : [...keys].sort();
  return ordered.map((key) => {
    const values = runs.map((r) => {
      if (kind === "metrics") return r.data.metrics[key]?.value;
      return r.data[kind][key];
    });
    const first = String(values[0]);
    return { key, values, differs: values.some((v) => String(v) !== first) };
  });
}
