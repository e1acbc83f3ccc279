/**
 * What a tracked run records at start besides metrics: its params (the resolved config plus hardware, data and
 * source facts) and its tags (MLflow's system tags, storyteller's, the user's). Naming is documented in
 * docs/tracking.md; keep it stable, runs are compared by these keys.
 */
import { resolve } from "node:path";
import { type Config, flattenConfig } from "../config/mod.ts";
import { type KeyValue, MAX_PARAM_VAL_LENGTH } from "../tracking/mod.ts";
import { VERSION } from "../version.ts";
import type { StartInfo } from "./trainer.ts";
import { resolveAmpDtype } from "../kernels/amp.ts";

/** Where storyteller's own source came from, when it runs from a git checkout. */
export interface GitSource {
  commit?: string;
  branch?: string;
}

/**
 * The params of a run: every config value as `<section>.<key>` (`model.hidden_size`, `training.learning_rate`;
 * lists as JSON), except `training.tags` and `training.notes` which become tags; then what is known at start:
 * `hardware.*`, `dataset.*`, `model_size.parameters`, `source.*`.
 */
export function startParams(
  config: Config,
  info: Pick<StartInfo, "gpu" | "data" | "paramCount">,
  git: GitSource = {},
): KeyValue[] {
  const flat = flattenConfig(config);
  delete flat["training.tags"];
  delete flat["training.notes"];
  const s = info.data.stats;
  const g = info.gpu.summary;
  const params: Record<string, string | number | boolean> = {
    ...flat,
    "hardware.device": g.description,
    "hardware.vendor": g.vendor || "unknown",
    "hardware.architecture": g.architecture || "unknown",
    "hardware.fallback_adapter": g.isFallback,
    "hardware.shader_f16": info.gpu.hasF16,
    "hardware.use_amp": config.training.use_amp,
    "hardware.amp_dtype": config.training.amp_dtype,
    // What the matmuls really ran in: float32, float16, or bfloat16 (also float16's fallback without shader-f16).
    "hardware.amp_dtype_effective": resolveAmpDtype(config.training, info.gpu).dtype,
    "dataset.sources": s.sources,
    "dataset.val_sources": s.valSources,
    "dataset.train_tokens": s.trainTokens,
    "dataset.val_tokens": s.valTokens,
    "dataset.train_docs": s.trainDocs,
    "dataset.val_docs": s.valDocs,
    "dataset.tokenizer": s.tokenizerSource,
    "dataset.tokenizer_vocab_size": info.data.tokenizer.vocabSize,
    "model_size.parameters": info.paramCount,
    "source.version": VERSION,
  };
  if (git.commit) params["source.git_commit"] = git.commit;
  return Object.entries(params).map(([key, v]) => ({ key, value: String(v).slice(0, MAX_PARAM_VAL_LENGTH) }));
}

/**
 * The OS user, as MLflow's `mlflow.user` tag holds it: Python's getpass.getuser() order (LOGNAME, USER, LNAME,
 * USERNAME), then the passwd entry of the process's uid where the environment names nobody (containers, cron).
 */
export function userName(env: (name: string) => string | undefined = (n) => Deno.env.get(n)): string {
  for (const name of ["LOGNAME", "USER", "LNAME", "USERNAME"]) {
    try {
      const v = env(name);
      if (v) return v;
    } catch { /* no env permission for this one */ }
  }
  try {
    const uid = Deno.uid();
    if (uid !== null) {
      const entry = Deno.readTextFileSync("/etc/passwd").split("\n").map((l) => l.split(":"))
        .find((f) => f.length > 2 && f[2] === String(uid));
      if (entry?.[0]) return entry[0];
    }
  } catch { /* no passwd file, or no permission to read it */ }
  return "unknown";
}

/** The git commit and branch of storyteller's source when it runs from a checkout (not from a compiled binary). */
export async function gitSource(): Promise<GitSource> {
  const url = new URL(".", import.meta.url);
  if (url.protocol !== "file:") return {};
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args: ["-C", url.pathname, ...args], stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  };
  try {
    const commit = await git("rev-parse", "HEAD");
    return commit ? { commit, branch: await git("rev-parse", "--abbrev-ref", "HEAD") } : {};
  } catch {
    return {}; // no git, no --allow-run, or not a checkout
  }
}

/**
 * The tags a run gets at start: `mlflow.user`, `mlflow.source.{name,type}`, `mlflow.source.git.{commit,branch}`
 * when known, `storyteller.version`, `storyteller.checkpoint_dir`, then `training.tags` and `training.notes` (as
 * `mlflow.note.content`, the run description).
 */
export function startTags(config: Config, ckptDir: string, git: GitSource = {}): Record<string, string> {
  const t = config.training;
  const tags: Record<string, string> = {
    "mlflow.user": userName(),
    "mlflow.source.name": "storyteller train",
    "mlflow.source.type": "LOCAL",
    "storyteller.version": VERSION,
    "storyteller.checkpoint_dir": resolve(ckptDir),
  };
  if (git.commit) tags["mlflow.source.git.commit"] = git.commit;
  if (git.branch) tags["mlflow.source.git.branch"] = git.branch;
  Object.assign(tags, t.tags);
  if (t.notes) tags["mlflow.note.content"] = t.notes;
  return tags;
}
