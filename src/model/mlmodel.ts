/**
 * The `MLmodel` file that makes a storyteller model directory an MLflow model: MLflow's YAML format (spec §5) with a
 * `storyteller` flavor naming the weights, config and tokenizer files, and a `python_function` flavor (with its
 * code/ and environment files) so MLflow's own `mlflow models serve` runs the model too. Writes and reads the file;
 * it does not load weights (see checkpoint.ts) and does not know about runs or stores.
 */
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import {
  PYFUNC_FLAVOR,
  pyfuncDefaults,
  pyfuncFlavor,
  pyfuncSignature,
  writePyfuncFiles,
} from "../export/pyfunc/pyfunc.ts";
import { VERSION } from "../version.ts";
import { toPyYaml } from "../pyyaml.ts";
import { parsePyYaml } from "../yaml.ts";

/** The flavor name under `flavors:` in MLmodel. */
export const STORYTELLER_FLAVOR = "storyteller";

/** What the storyteller flavor records: file names relative to the model directory. */
export interface StorytellerFlavor {
  /** Weights as safetensors (F32 tensors named like `blocks.0.attn.q.weight`). */
  weights: string;
  /** The model config (`architecture` plus the resolved `model` section) as JSON. */
  config: string;
  /** A Hugging Face tokenizer.json. */
  tokenizer: string;
  /** Sampling defaults (max_new_tokens, temperature, top_k, top_p, eos_token_id) as JSON. */
  generation_config: string;
  format: "safetensors";
  architecture: string;
  storyteller_version: string;
}

/** An MLmodel file's content as storyteller writes and reads it (snake_case, as in the file). */
export interface MLmodel {
  /** Run-relative path (`model`), MLflow 2.x style. */
  artifact_path: string;
  flavors: Record<string, Record<string, unknown>>;
  model_size_bytes: number;
  /** uuid4 hex. */
  model_uuid: string;
  /** Omitted when the model was not logged to a run. */
  run_id?: string;
  /** Naive UTC as Python's `str(datetime)`: `2026-11-27 05:51:41.521000`. */
  utc_time_created: string;
  /** Keys of MLmodel files written by others are kept as read. */
  [key: string]: unknown;
}

/** The flavor storyteller's saveModelDir output matches. */
export function storytellerFlavor(): StorytellerFlavor {
  return {
    weights: "model.safetensors",
    config: "config.json",
    tokenizer: "tokenizer.json",
    generation_config: "generation_config.json",
    format: "safetensors",
    architecture: "storyteller-llama",
    storyteller_version: VERSION,
  };
}

/** Python's `str(datetime.utcnow())` for a JS time (microseconds padded from milliseconds). */
export function pyUtcTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-27T05:51:41.521Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}

async function totalSize(dir: string, skip: string): Promise<number> {
  let size = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.name === skip) continue;
    const path = join(dir, e.name);
    if (e.isDirectory) size += await totalSize(path, "");
    else if (e.isFile) size += (await Deno.stat(path)).size;
  }
  return size;
}

/**
 * Writes `<dir>/MLmodel` for a model directory written by saveModelDir and returns its content, with the
 * python_function flavor's files (code/, conda.yaml, python_env.yaml) beside it and a signature listing the
 * generation params. Fails when a file the flavor names is missing, so a half-written directory is never described
 * as a model.
 *
 * @example
 * ```ts
 * const mlmodel = await writeMLmodel("checkpoints/run-1/model", { runId: "9c09…" });
 * mlmodel.flavors.storyteller.weights; // "model.safetensors"
 * ```
 */
export async function writeMLmodel(
  dir: string,
  options: { runId?: string; artifactPath?: string; now?: number; modelUuid?: string } = {},
): Promise<MLmodel> {
  const flavor = storytellerFlavor();
  for (const file of [flavor.weights, flavor.config, flavor.tokenizer, flavor.generation_config]) {
    try {
      await Deno.stat(join(dir, file));
    } catch {
      throw new UsageError(`Cannot write MLmodel in ${dir}: ${file} is missing`, {
        hint: "write the model directory first (saveModelDir), then describe it",
      });
    }
  }
  await writePyfuncFiles(dir);
  const mlmodel: MLmodel = {
    artifact_path: options.artifactPath ?? "model",
    flavors: { [PYFUNC_FLAVOR]: pyfuncFlavor(), [STORYTELLER_FLAVOR]: { ...flavor } },
    model_size_bytes: await totalSize(dir, "MLmodel"),
    model_uuid: options.modelUuid ?? crypto.randomUUID().replaceAll("-", ""),
    signature: pyfuncSignature(await pyfuncDefaults(dir)),
    utc_time_created: pyUtcTime(options.now ?? Date.now()),
  };
  if (options.runId) mlmodel.run_id = options.runId;
  await Deno.writeTextFile(join(dir, "MLmodel"), toPyYaml(mlmodel));
  return mlmodel;
}

/**
 * The entry MLflow appends to a run's `mlflow.log-model.history` tag for this model (spec §1.8): the MLmodel's
 * identity and flavors.
 */
export function logModelHistoryEntry(mlmodel: MLmodel, runId: string): Record<string, unknown> {
  return {
    run_id: runId,
    artifact_path: mlmodel.artifact_path,
    utc_time_created: mlmodel.utc_time_created,
    model_uuid: mlmodel.model_uuid,
    flavors: mlmodel.flavors,
  };
}

/**
 * Reads `<dir>/MLmodel`. With `requireFlavor` (the default) it also checks that the storyteller flavor is there
 * and names existing files, and returns their absolute paths in `files`.
 */
export async function readMLmodel(
  dir: string,
  options: { requireFlavor?: boolean } = {},
): Promise<{ mlmodel: MLmodel; flavor?: StorytellerFlavor; files?: Record<keyof FlavorFiles, string> }> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, "MLmodel"));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot read the model in ${dir}: there is no MLmodel file`, {
        hint:
          "pass the model directory of a training run (checkpoints/<run>/model or a run's artifacts/model)",
      });
    }
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = parsePyYaml(text);
  } catch (err) {
    throw new UsageError(`Cannot read ${join(dir, "MLmodel")}: ${(err as Error).message}`);
  }
  const isMap = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isMap(parsed) || !isMap(parsed.flavors)) {
    throw new UsageError(`Cannot read ${join(dir, "MLmodel")}: it has no 'flavors' mapping`);
  }
  const mlmodel = parsed as MLmodel;
  if (options.requireFlavor === false) return { mlmodel };
  const flavor = mlmodel.flavors[STORYTELLER_FLAVOR];
  if (!isMap(flavor)) {
    throw new UsageError(
      `Cannot load the model in ${dir}: its MLmodel has no '${STORYTELLER_FLAVOR}' flavor (it has ${
        Object.keys(mlmodel.flavors).join(", ") || "none"
      })`,
      { hint: "storyteller serves only models it trained; other flavors need MLflow itself" },
    );
  }
  const files = {} as Record<keyof FlavorFiles, string>;
  for (const key of FLAVOR_FILES) {
    const name = flavor[key];
    if (typeof name !== "string" || !name) {
      throw new UsageError(
        `Cannot load the model in ${dir}: the ${STORYTELLER_FLAVOR} flavor lacks '${key}'`,
      );
    }
    files[key] = join(dir, name);
    try {
      await Deno.stat(files[key]);
    } catch {
      throw new UsageError(`Cannot load the model in ${dir}: ${name} (the flavor's ${key}) is missing`);
    }
  }
  return { mlmodel, flavor: flavor as unknown as StorytellerFlavor, files };
}

type FlavorFiles = Pick<StorytellerFlavor, "weights" | "config" | "tokenizer" | "generation_config">;
const FLAVOR_FILES: (keyof FlavorFiles)[] = ["weights", "config", "tokenizer", "generation_config"];
