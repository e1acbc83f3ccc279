/**
 * Checkpoints and model directories on disk. A checkpoint (`<dir>/step_<N>/`) holds the weights and the AdamW
 * moments as safetensors plus `state.json` (resolved config, step, sampler state, AMP loss scale; see
 * train_state.ts). Both kinds are written into a `*.tmp-<pid>` directory and swapped in by renames that keep one
 * complete copy at every instant (replaceDir); recoverRunDir tidies what a crash between the renames left. A model
 * directory holds what serving needs: `model.safetensors`, `config.json`, `tokenizer.json`, `generation_config.json`.
 */
import { resolve } from "node:path";
import { type Config, RUN_NAME_HINT, runNameProblem } from "../config/mod.ts";
import { UsageError } from "../errors.ts";
import { readSafetensors, toF32, writeSafetensors } from "./safetensors.ts";
import type { Layout } from "./layout.ts";
import { readTrainState, type TrainState } from "./train_state.ts";

export { parseTrainState, readTrainState, type TrainState } from "./train_state.ts";

/**
 * `<root>/<runName>`, the directory of a run's checkpoints and model. Refuses a name that is not one plain
 * directory name: "../x" would write (and prune) outside `root`.
 */
export function runDir(root: string, runName: string): string {
  const wrong = runNameProblem(runName);
  if (wrong) {
    const what = `run name ${JSON.stringify(runName)}`;
    throw new UsageError(`Cannot use ${what} for a checkpoint directory: it ${wrong}`, {
      hint: RUN_NAME_HINT,
    });
  }
  return `${root}/${runName}`;
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

/** Writes `<dir>/step_<N>` (replacing one there, see replaceDir) so it is never seen half written; returns its path. */
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
  await replaceDir(tmp, final);
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

/**
 * The newest complete checkpoint under `dir`, if any: a `step_<N>` directory, or a `step_<N>.old-*` copy that a
 * crash left set aside (recoverRunDir puts it back) when no newer one exists.
 */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  let best: { step: number; path: string; aside: boolean } | undefined;
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^step_(\d+)(\.old-[\w-]+)?$/.exec(e.name);
      if (!e.isDirectory || !m) continue;
      const step = Number(m[1]), aside = m[2] !== undefined;
      // On a tie the one in place wins: the aside copy is the older of the two.
      if (!best || step > best.step || (step === best.step && best.aside && !aside)) {
        best = { step, path: `${dir}/${e.name}`, aside };
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

/** Reads a checkpoint written by saveCheckpoint; state.json is checked field by field (readTrainState). */
export async function loadCheckpoint(
  path: string,
  layout: Layout,
): Promise<{ params: Float32Array; m: Float32Array; v: Float32Array; state: TrainState }> {
  const state = await readTrainState(path);
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

/** Writes a model directory (weights, config, tokenizer, generation defaults) as saveCheckpoint writes a checkpoint. */
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
  await replaceDir(tmp, dir);
}

/**
 * Moves the finished directory `tmp` to `final`. A `final` already there is renamed aside (`<final>.old-<pid>-<n>`)
 * first and removed only once the new one is in place, so a crash at any instant leaves a complete copy under one
 * of the two names (recoverRunDir sorts them out); deleting first would leave none in the gap.
 */
async function replaceDir(tmp: string, final: string): Promise<void> {
  const aside = `${final}.old-${Deno.pid}-${++asideCounter}`;
  let setAside = true;
  try {
    await Deno.rename(final, aside);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    setAside = false;
  }
  await Deno.rename(tmp, final);
  if (setAside) await Deno.remove(aside, { recursive: true });
}

let asideCounter = 0;

/** What recoverRunDir did: the leftovers it removed and the set-aside copies it put back (aside → restored path). */
export interface Recovery {
  removed: string[];
  restored: Map<string, string>;
}

/**
 * Tidies what a crash in saveCheckpoint or saveModelDir left in a run directory; call it holding the run's lock,
 * since a live writer's temporaries look the same. A `step_<N>.tmp-*` or `model.tmp-*` directory is an unfinished
 * write and is removed. A `*.old-*` copy set aside by replaceDir goes back into place when nothing replaced it,
 * and is removed when something did. Only directories match: storyteller writes no such files.
 */
export async function recoverRunDir(dir: string): Promise<Recovery> {
  const out: Recovery = { removed: [], restored: new Map() };
  const asides: { path: string; final: string }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^(step_\d+|model)\.(tmp|old)-[\w-]+$/.exec(e.name);
      if (!e.isDirectory || !m) continue;
      const path = `${dir}/${e.name}`;
      if (m[2] === "old") asides.push({ path, final: `${dir}/${m[1]}` });
      else {
        await Deno.remove(path, { recursive: true });
        out.removed.push(path);
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  for (const { path, final } of asides) {
    const inPlace = await Deno.stat(final).then(() => true, () => false);
    if (inPlace) {
      await Deno.remove(path, { recursive: true });
      out.removed.push(path);
    } else {
      await Deno.rename(path, final);
      out.restored.set(resolve(path), final);
    }
  }
  return out;
}
