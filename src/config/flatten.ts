/** Flattens a config into dotted keys (`model.hidden_size`), the form logged as run params. */
import type { Config } from "./types.ts";

/** `{model: {hidden_size: 288}}` → `{"model.hidden_size": "288"}`; lists and maps become JSON text. */
export function flattenConfig(config: Config): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (v: unknown, path: string) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && !path.endsWith("tags")) {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    } else {
      out[path] = v === null ? "None" : typeof v === "object" ? JSON.stringify(v) : String(v);
    }
  };
  walk(config, "");
  return out;
}
