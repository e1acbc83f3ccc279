/**
 * Config resolution: typed defaults, then a YAML file (a path or an embedded preset name), then `--set key=value`
 * overrides. Every problem is a ConfigError naming file, line, column, key path and what was expected.
 */
import { parseYamlDocument, type YamlNode } from "../yaml.ts";
import { ConfigError } from "../errors.ts";
import type { Config } from "./types.ts";
import { type Field, SCHEMA, type Section } from "./schema.ts";
import { DEFAULT_PRESET, PRESETS } from "./presets.ts";
import { closest } from "./_suggest.ts";
import { RUN_NAME_HINT, runNameProblem } from "./run_name.ts";

/** Where a value came from, for error messages. */
interface Where {
  file: string;
  line?: number;
  col?: number;
}

/** A fresh copy of the defaults. */
export function defaultConfig(): Config {
  return buildDefaults(SCHEMA) as unknown as Config;
}

function buildDefaults(section: Section): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(section.fields)) {
    out[k] = f.type === "section" ? buildDefaults(f) : structuredClone(f.default);
  }
  return out;
}

/** A resolved config and where its file came from. */
export interface ResolvedConfig {
  config: Config;
  /** The file path, or `<embedded:name>` for a preset. */
  source: string;
  /** The YAML text that was read (before overrides). */
  text: string;
}

/**
 * Resolves the config: defaults ← file or preset ← overrides. `pathOrName` may be a file path or the name of an
 * embedded config (`tiny`, `base_model`, `moe_model`); without it the default preset is used.
 */
export async function loadConfig(pathOrName?: string, sets: string[] = []): Promise<ResolvedConfig> {
  const { text, source } = await readConfigText(pathOrName ?? DEFAULT_PRESET);
  const config = parseConfig(text, source);
  for (const s of sets) applySet(config, s);
  validateConfig(config, new Map());
  return { config, source, text };
}

async function readConfigText(pathOrName: string): Promise<{ text: string; source: string }> {
  try {
    return { text: await Deno.readTextFile(pathOrName), source: pathOrName };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound) && !(err instanceof Deno.errors.IsADirectory)) {
      throw new ConfigError(`Cannot read config: ${(err as Error).message}`, { file: pathOrName });
    }
  }
  const name = (pathOrName.split(/[\\/]/).pop() ?? "").replace(/\.ya?ml$/, "");
  const preset = PRESETS[name];
  if (preset !== undefined) return { text: preset, source: `<embedded:${name}>` };
  throw new ConfigError(`Cannot read config: no such file or embedded config`, { file: pathOrName }, {
    hint: `embedded configs: ${Object.keys(PRESETS).join(", ")}`,
  });
}

/** Parses YAML text over the defaults; `file` names it in errors. Does not run cross-field checks. */
export function parseConfig(text: string, file: string): Config {
  const config = defaultConfig();
  const { root, position } = parseYamlDocument(text, file);
  if (root === null) return config;
  const positions = new Map<string, Where>();
  applySection(root, SCHEMA, "", config as unknown as Record<string, unknown>, file, position, positions);
  validateConfig(config, positions);
  return config;
}

function applySection(
  node: YamlNode,
  section: Section,
  path: string,
  target: Record<string, unknown>,
  file: string,
  position: (offset: number) => { line: number; col: number },
  positions: Map<string, Where>,
): void {
  const at = (n: YamlNode): Where => ({ file, ...position(n.offset) });
  if (node.kind !== "map") {
    throw new ConfigError(`expected a mapping of keys, found ${node.kind}`, {
      ...at(node),
      key: path || undefined,
    });
  }
  for (const { key, keyNode, value } of node.entries) {
    const full = path ? `${path}.${key}` : key;
    const spec = section.fields[key];
    if (!spec) {
      const near = closest(key, Object.keys(section.fields));
      throw new ConfigError(`unknown key`, { ...at(keyNode), key: full }, {
        hint: near
          ? `did you mean '${path ? `${path}.` : ""}${near}'?`
          : `valid keys here: ${Object.keys(section.fields).join(", ")}`,
      });
    }
    positions.set(full, at(value));
    if (spec.type === "section") {
      if (value.kind === "null") continue;
      applySection(value, spec, full, target[key] as Record<string, unknown>, file, position, positions);
    } else {
      target[key] = coerce(value.value, spec, { ...at(value), key: full });
    }
  }
}

/** Applies one `--set a.b.c=value` override; the value is read as a YAML scalar or flow collection. */
export function applySet(config: Config, assignment: string): void {
  const eq = assignment.indexOf("=");
  const where = { file: "--set" };
  if (eq <= 0) {
    throw new ConfigError(`Cannot apply override '${assignment}': expected key.path=value`, where);
  }
  const path = assignment.slice(0, eq).trim();
  const raw = assignment.slice(eq + 1);
  const parts = path.split(".");
  let section: Section = SCHEMA;
  let target = config as unknown as Record<string, unknown>;
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i];
    const spec: Field | Section | undefined = section.fields[key];
    const sofar = parts.slice(0, i + 1).join(".");
    if (!spec) {
      const near = closest(key, Object.keys(section.fields));
      const prefix = parts.slice(0, i).join(".");
      throw new ConfigError(`unknown key`, { ...where, key: sofar }, {
        hint: near ? `did you mean '${prefix ? prefix + "." : ""}${near}'?` : undefined,
      });
    }
    if (spec.type === "section") {
      if (i === parts.length - 1) {
        throw new ConfigError(`is a section; set one of its keys (${Object.keys(spec.fields).join(", ")})`, {
          ...where,
          key: sofar,
        });
      }
      section = spec;
      target = target[key] as Record<string, unknown>;
      continue;
    }
    if (i !== parts.length - 1) {
      throw new ConfigError(`is not a section`, { ...where, key: sofar });
    }
    const { root } = parseYamlDocument(raw, "--set");
    target[key] = coerce(root === null ? null : root.value, spec, { ...where, key: path });
  }
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

function coerce(v: unknown, f: Field, where: Where & { key: string }): unknown {
  const bad = (expected: string): never => {
    throw new ConfigError(`expected ${expected}, found ${typeName(v)}`, where);
  };
  switch (f.type) {
    case "int":
    case "float": {
      if (v === null && f.nullable) return null;
      if (typeof v !== "number" || Number.isNaN(v)) {
        return bad(f.type === "int" ? "an integer" : "a number");
      }
      if (f.type === "int" && !Number.isInteger(v)) return bad("an integer");
      if ((f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max)) {
        throw new ConfigError(`${v} is out of range: expected ${f.min} ≤ value ≤ ${f.max}`, where);
      }
      return v;
    }
    case "bool":
      return typeof v === "boolean" ? v : bad("true or false");
    case "string":
      if (v === null && f.nullable) return null;
      if (typeof v === "number") return String(v);
      return typeof v === "string" ? v : bad(f.nullable ? "a string or null" : "a string");
    case "enum":
      if (typeof v === "string" && f.values.includes(v)) return v;
      {
        const near = typeof v === "string" ? closest(v, [...f.values]) : undefined;
        throw new ConfigError(`expected one of ${f.values.join(" | ")}, found ${typeName(v)}`, where, {
          hint: near ? `did you mean '${near}'?` : undefined,
        });
      }
    case "strings":
      if (typeof v === "string") return [v];
      if (v === null) return [];
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
      return bad("a string or a list of strings");
    case "string_map": {
      if (v === null) return {};
      if (typeof v !== "object" || Array.isArray(v)) return bad("a mapping of names to values");
      const out: Record<string, string> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === null || typeof x === "object") {
          throw new ConfigError(`expected a scalar value for '${k}', found ${typeName(x)}`, where);
        }
        out[k] = String(x);
      }
      return out;
    }
    case "layers":
      if (v === "all" || v === "every_other") return v;
      if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0)) return v;
      return bad("all, every_other, or a list of layer indices");
  }
}

/** Cross-field checks on a resolved config; `positions` points errors at the offending value when known. */
export function validateConfig(config: Config, positions: Map<string, Where>): void {
  const fail = (key: string, message: string, hint?: string): never => {
    throw new ConfigError(message, { ...(positions.get(key) ?? {}), key }, { hint });
  };
  const m = config.model;
  if (m.hidden_size % m.num_heads !== 0) {
    fail("model.num_heads", `hidden_size ${m.hidden_size} is not divisible by num_heads ${m.num_heads}`);
  }
  const hs = m.hidden_size / m.num_heads;
  if (hs % 2 !== 0) {
    fail("model.num_heads", `head size ${hs} (hidden_size / num_heads) must be even for RoPE`);
  }
  const kv = m.num_kv_heads ?? m.num_heads;
  if (kv > m.num_heads || m.num_heads % kv !== 0) {
    fail("model.num_kv_heads", `num_heads ${m.num_heads} is not a multiple of num_kv_heads ${kv}`);
  }
  if (m.moe.num_experts > 0) {
    if (m.moe.num_experts < m.moe.top_k) {
      fail("model.moe.num_experts", `num_experts ${m.moe.num_experts} is smaller than top_k ${m.moe.top_k}`);
    }
    if (Array.isArray(m.moe.layers)) {
      const out = m.moe.layers.find((i) => i >= m.num_layers);
      if (out !== undefined) {
        fail("model.moe.layers", `layer ${out} does not exist (num_layers is ${m.num_layers})`);
      }
    }
  }
  const t = config.training;
  if (t.min_lr > t.learning_rate) {
    fail("training.min_lr", `min_lr ${t.min_lr} is above learning_rate ${t.learning_rate}`);
  }
  if (t.amp_dtype !== "float16" && t.amp_dtype !== "bfloat16") {
    fail("training.amp_dtype", "unknown amp_dtype");
  }
  // The run name becomes a directory under checkpoint_dir: "../x" would put (and prune) checkpoints elsewhere.
  const runNameWrong = t.mlflow_run_name === null ? undefined : runNameProblem(t.mlflow_run_name);
  if (runNameWrong) {
    fail(
      "training.mlflow_run_name",
      `run name ${JSON.stringify(t.mlflow_run_name)} ${runNameWrong}`,
      RUN_NAME_HINT,
    );
  }
}
