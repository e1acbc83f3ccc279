/**
 * Checkpoints and model directories on disk. A checkpoint (`<dir>/step_<N>/`) holds the weights and the AdamW
 * moments as safetensors plus `state.json` (resolved config, step, sampler state, AMP loss scale), written into a
 * temporary directory and renamed so a crash never leaves half a checkpoint. A model directory holds what
 * serving needs: `model.safetensors`, `config.json`, `tokenizer.json`, `generation_config.json`.
 */
import type { Config } from "../config/mod.ts";
import { UsageError } from "../errors.ts";
import { readSafetensors, toF32, writeSafetensors } from "./safetensors.ts";
import type { Layout } from "./layout.ts";
import type { AmpState } from "./amp.ts";

/** Everything besides tensors that a resumed run needs. */
export interface TrainState {
  /** Optimizer steps completed. */
  step: number;
  config: Config;
  sampler: unknown;
  runName: string;
  /** Tracking run id, so a resumed run continues the same tracked run. */
  runId?: string;
  /** Per-step loss sums of the last log window, carried so logs continue smoothly. */
  extra?: Record<string, unknown>;
  /** AMP runs: the loss scale, its clean-step count and the skipped-steps total, so a resume continues them. */
  amp?: AmpState;
}

/** Splits a flat buffer into named tensors by the layout (padding dropped). */
export function tensorsOf(layout: Layout, flat: Float32Array, prefix = "") {
  return layout.entries.map((e) => ({
    name: prefix + e.name,
    dtype: "F32" as const,
    shape: e.shape,
    data: flat.subarray(e.offset, e.offset + e.size),
  }));
}

/** Fills a flat buffer from named tensors, checking names and shapes against the layout. */
export function flatFrom(
  layout: Layout,
  tensors: Map<string, { dtype: string; shape: number[]; data: Uint8Array }>,
  source: string,
  prefix = "",
): Float32Array {
  const flat = new Float32Array(layout.total);
  for (const e of layout.entries) {
    const t = tensors.get(prefix + e.name);
    if (!t) throw new UsageError(`Cannot load ${source}: tensor ${prefix + e.name} is missing`);
    if (t.shape.join("x") !== e.shape.join("x")) {
      throw new UsageError(
        `Cannot load ${source}: tensor ${
          prefix + e.name
        } has shape [${t.shape}], the config expects [${e.shape}]`,
      );
    }
    flat.set(toF32(t as Parameters<typeof toF32>[0]), e.offset);
  }
  return flat;
}

/** Writes a checkpoint directory atomically; returns its path. */
export async function saveCheckpoint(
  dir: string,
  layout: Layout,
  tensors: { params: Float32Array; m: Float32Array; v: Float32Array },
  state: TrainState,
): Promise<string> {
  const final = `${dir}/step_${state.step}`;
  const tmp = `${final}.tmp-${Deno.pid}`;
  await Deno.mkdir(tmp, { recursive: true });
  await writeSafetensors(`${tmp}/model.safetensors`, tensorsOf(layout, tensors.params), { format: "pt" });
  await writeSafetensors(`${tmp}/optimizer.safetensors`, [
    ...tensorsOf(layout, tensors.m, "adam.m."),
    ...tensorsOf(layout, tensors.v, "adam.v."),
  ]);
  await Deno.writeTextFile(`${tmp}/state.json`, JSON.stringify(state, null, 2) + "\n");
  await Deno.remove(final, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, final);
  return final;
}

/** Deletes all but the `keep` newest `step_<N>` directories under `dir` (keep 0: none deleted); returns those gone. */
export async function pruneCheckpoints(dir: string, keep: number): Promise<string[]> {
  if (keep <= 0) return [];
  const steps: { step: number; path: string }[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = /^step_(\d+)$/.exec(e.name);
    if (e.isDirectory && m) steps.push({ step: Number(m[1]), path: `${dir}/${e.name}` });
  }
  steps.sort((a, b) => b.step - a.step);
  const gone = steps.slice(keep).map((s) => s.path);
  for (const path of gone) await Deno.remove(path, { recursive: true });
  return gone;
}

/** The newest `step_<N>` directory under `dir`, if any. */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  let best: { step: number; path: string } | undefined;
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^step_(\d+)$/.exec(e.name);
      if (e.isDirectory && m && (!best || Number(m[1]) > best.step)) {
        best = { step: Number(m[1]), path: `${dir}/${e.name}` };
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return best?.path;
}

/**
 * The most recently written checkpoint of any run under `root` (`<root>/<run>/step_<N>`), by its state.json's
 * modification time, with its run's directory name; undefined when there is none.
 */
export async function latestRunCheckpoint(
  root: string,
): Promise<{ runName: string; path: string } | undefined> {
  let best: { runName: string; path: string; mtime: number } | undefined;
  try {
    for await (const e of Deno.readDir(root)) {
      if (!e.isDirectory) continue;
      const path = await latestCheckpoint(`${root}/${e.name}`);
      if (!path) continue;
      const mtime = (await Deno.stat(`${path}/state.json`).catch(() => null))?.mtime?.getTime() ?? 0;
      if (!best || mtime > best.mtime) best = { runName: e.name, path, mtime };
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return best && { runName: best.runName, path: best.path };
}

/** Reads a checkpoint written by saveCheckpoint. */
export async function loadCheckpoint(
  path: string,
  layout: Layout,
): Promise<{ params: Float32Array; m: Float32Array; v: Float32Array; state: TrainState }> {
  let stateText: string;
  try {
    stateText = await Deno.readTextFile(`${path}/state.json`);
  } catch {
    throw new UsageError(`Cannot resume from ${path}: no state.json there`, {
      hint: "pass a step_<N> directory written by storyteller train, or --resume alone for the latest",
    });
  }
  const state = JSON.parse(stateText) as TrainState;
  if (state.amp !== undefined) checkAmpState(state.amp, `${path}/state.json`);
  const model = await readSafetensors(`${path}/model.safetensors`);
  const opt = await readSafetensors(`${path}/optimizer.safetensors`);
  return {
    params: flatFrom(layout, model.tensors, `${path}/model.safetensors`),
    m: flatFrom(layout, opt.tensors, `${path}/optimizer.safetensors`, "adam.m."),
    v: flatFrom(layout, opt.tensors, `${path}/optimizer.safetensors`, "adam.v."),
    state,
  };
}

/** Generation defaults stored beside a model. */
export interface GenerationConfig {
  max_new_tokens: number;
  temperature: number;
  top_k: number;
  top_p: number;
  eos_token_id: number;
  /** CTRL-style penalty on tokens already in the sequence (1 = off; absent in older model directories). */
  repetition_penalty?: number;
}

/** Writes a model directory (weights, config, tokenizer, generation defaults) atomically. */
export async function saveModelDir(
  dir: string,
  layout: Layout,
  params: Float32Array,
  config: Config,
  tokenizerJson: string,
  generation: GenerationConfig,
): Promise<void> {
  const tmp = `${dir}.tmp-${Deno.pid}`;
  await Deno.mkdir(tmp, { recursive: true });
  await writeSafetensors(`${tmp}/model.safetensors`, tensorsOf(layout, params), { format: "pt" });
  const modelConfig = { architecture: "storyteller-llama", ...config.model };
  await Deno.writeTextFile(`${tmp}/config.json`, JSON.stringify(modelConfig, null, 2) + "\n");
  await Deno.writeTextFile(`${tmp}/tokenizer.json`, tokenizerJson);
  await Deno.writeTextFile(`${tmp}/generation_config.json`, JSON.stringify(generation, null, 2) + "\n");
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, dir);
}

/** Rejects a state.json `amp` entry that could not have been written by saveCheckpoint. */
function checkAmpState(amp: AmpState, source: string): void {
  const ok = typeof amp === "object" && amp !== null && ["float16", "bfloat16"].includes(amp.dtype) &&
    amp.lossScale > 0 && Number.isFinite(amp.lossScale) &&
    [amp.cleanSteps, amp.skippedSteps].every((n) => Number.isInteger(n) && n >= 0);
  if (!ok) {
    throw new UsageError(
      `Cannot resume from ${source}: its amp entry ${JSON.stringify(amp)} is not a loss-scale state`,
      {
        hint:
          "expected {dtype: float16|bfloat16, lossScale > 0, cleanSteps ≥ 0, skippedSteps ≥ 0}; remove the entry to start the scale afresh",
      },
    );
  }
}
