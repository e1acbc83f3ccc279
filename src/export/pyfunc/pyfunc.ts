/**
 * MLflow's `python_function` flavor for a storyteller model directory, so `mlflow.pyfunc.load_model` and
 * `mlflow models serve` run it: the NumPy module (storyteller_pyfunc.py, carried inside the binary) in `code/`,
 * `conda.yaml` and `python_env.yaml` naming numpy as the only model dependency, the flavor's MLmodel entry and a
 * signature whose params MLflow passes to `predict`. Not the module's logic (the .py file) nor MLmodel itself.
 */
import { join } from "node:path";
import code from "./storyteller_pyfunc.py" with { type: "text" };
import { toPyYaml } from "../../pyyaml.ts";

/** MLflow's flavor name for generic Python models. */
export const PYFUNC_FLAVOR = "python_function";

/** The module MLflow imports from `code/` (loader_module). */
export const PYFUNC_MODULE = "storyteller_pyfunc";

/** The Python the environment files ask for; the module itself needs 3.8 or later. */
export const PYTHON_VERSION = "3.11";

/** The module's source, as written to `code/storyteller_pyfunc.py`. */
export const PYFUNC_CODE: string = code;

/** Model dependencies (mlflow itself is listed because `mlflow models serve` runs inside the environment). */
const REQUIREMENTS = ["mlflow>=2.10", "numpy>=1.21"];

/** The `python_function` entry of MLmodel's flavors (keys as MLflow's own pyfunc flavors write them). */
export function pyfuncFlavor(): Record<string, unknown> {
  return {
    loader_module: PYFUNC_MODULE,
    code: "code",
    data: ".",
    env: { conda: "conda.yaml", virtualenv: "python_env.yaml" },
    python_version: PYTHON_VERSION,
  };
}

/** Generation defaults the signature's params take when a request leaves them out (generation_config.json). */
export interface PyfuncDefaults {
  max_new_tokens: number;
  temperature: number;
  top_k: number;
  top_p: number;
}

/**
 * MLmodel's `signature`: params only (MLflow passes `params` to predict only when the signature lists them, and
 * fills in each one's default when a request leaves it out), no input schema, so a list of prompts and a DataFrame
 * both reach predict as given. `seed` -1 draws a fresh seed per call.
 */
export function pyfuncSignature(d: PyfuncDefaults): Record<string, string> {
  const spec = (name: string, type: string, value: number) => ({ name, type, default: value, shape: null });
  const params = [
    spec("max_tokens", "long", d.max_new_tokens),
    spec("temperature", "double", d.temperature),
    spec("top_k", "long", d.top_k),
    spec("top_p", "double", d.top_p),
    spec("seed", "long", -1),
  ];
  return { params: JSON.stringify(params) };
}

/** Reads generation_config.json's defaults, falling back to storyteller's (a file without them still serves). */
export async function pyfuncDefaults(dir: string): Promise<PyfuncDefaults> {
  let raw: Record<string, unknown> = {};
  try {
    raw = JSON.parse(await Deno.readTextFile(join(dir, "generation_config.json"))) ?? {};
  } catch { /* loadModel reports a broken file; the signature keeps the defaults */ }
  const num = (k: string, d: number) => (typeof raw[k] === "number" ? raw[k] as number : d);
  return {
    max_new_tokens: num("max_new_tokens", 256),
    temperature: num("temperature", 0.8),
    top_k: num("top_k", 50),
    top_p: num("top_p", 0.95),
  };
}

/** Writes `code/storyteller_pyfunc.py`, `conda.yaml` and `python_env.yaml` into a model directory. */
export async function writePyfuncFiles(dir: string): Promise<void> {
  await Deno.mkdir(join(dir, "code"), { recursive: true });
  await Deno.writeTextFile(join(dir, "code", `${PYFUNC_MODULE}.py`), PYFUNC_CODE);
  const conda = {
    channels: ["conda-forge"],
    dependencies: [`python=${PYTHON_VERSION}`, "pip", { pip: REQUIREMENTS }],
    name: "mlflow-env",
  };
  await Deno.writeTextFile(join(dir, "conda.yaml"), toPyYaml(conda));
  const pythonEnv = { python: PYTHON_VERSION, build_dependencies: ["pip"], dependencies: REQUIREMENTS };
  await Deno.writeTextFile(join(dir, "python_env.yaml"), toPyYaml(pythonEnv));
}
