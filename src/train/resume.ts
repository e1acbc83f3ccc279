/**
 * Which run a training writes and which checkpoint it resumes: the run name from the options, the config or the
 * checkpoint's state.json, each checked before anything is written; then, under the run's lock, the repair of a
 * crashed write and the final choice of checkpoint. Not the loading of tensors: see trainer.ts.
 */
import { resolve } from "node:path";
import {
  latestCheckpoint,
  latestRunCheckpoint,
  readTrainState,
  recoverRunDir,
  runDir,
  type TrainState,
} from "../model/checkpoint.ts";
import { UsageError } from "../errors.ts";
import type { TrainOptions } from "./trainer.ts";

/** A checkpoint to resume from and its checked state.json. */
export interface Resume {
  path: string;
  state: TrainState;
}

/** Who trains where: the run, its checkpoint directory and what to resume, all checked, nothing written yet. */
export interface RunPlan {
  runName: string;
  ckptDir: string;
  resume?: Resume;
}

/**
 * The run name and the checkpoint to resume from. `--resume` alone continues the named run
 * (training.mlflow_run_name), or when none is named the run under checkpoint_dir that checkpointed last; a
 * checkpoint path continues the run it belongs to (its state.json names it) unless a name is given. Reads only:
 * every state.json field and the run name are checked before the caller writes anything.
 */
export async function resolveRun(opts: TrainOptions, log: (line: string) => void): Promise<RunPlan> {
  const t = opts.config.training;
  const named = opts.runName ?? t.mlflow_run_name ?? undefined;
  const plan = async (runName: string, path?: string): Promise<RunPlan> => {
    const ckptDir = runDir(t.checkpoint_dir, runName);
    return { runName, ckptDir, resume: path === undefined ? undefined : await checkedResume(path, opts) };
  };
  if (opts.resume === true) {
    if (named === undefined) {
      const latest = await latestRunCheckpoint(t.checkpoint_dir);
      if (!latest) {
        throw new UsageError(`Cannot resume: no checkpoint under ${t.checkpoint_dir}`, {
          hint: "train first, or pass --resume <checkpoint directory> (or set training.checkpoint_dir)",
        });
      }
      log(`resuming '${latest.runName}', the run under ${t.checkpoint_dir} that checkpointed last`);
      return await plan(latest.runName, latest.path);
    }
    const resumeFrom = await latestCheckpoint(runDir(t.checkpoint_dir, named));
    if (!resumeFrom) {
      throw new UsageError(`Cannot resume run '${named}': no checkpoint under ${t.checkpoint_dir}/${named}`, {
        hint:
          "check training.mlflow_run_name and training.checkpoint_dir, or pass --resume <checkpoint directory>",
      });
    }
    return await plan(named, resumeFrom);
  }
  if (typeof opts.resume === "string") {
    const resume = await checkedResume(opts.resume, opts);
    return { ...await plan(named ?? resume.state.runName), resume };
  }
  return await plan(named ?? defaultRunName());
}

/** The checkpoint at `path` with its state.json checked field by field and against training.max_steps. */
async function checkedResume(path: string, opts: TrainOptions): Promise<Resume> {
  const state = await readTrainState(path);
  const max = opts.config.training.max_steps;
  if (state.step > max) {
    throw new UsageError(
      `Cannot resume from ${path}: it is at step ${state.step}, past training.max_steps ${max}`,
      {
        hint: `raise training.max_steps above ${state.step} to train further (--set training.max_steps=<n>)`,
      },
    );
  }
  return { path, state };
}

/**
 * With the run's lock held: tidies what a crash left in its directory, then settles the checkpoint to resume,
 * which another training of the run may have moved on (or a repair put back in place) since resolveRun looked.
 */
export async function settleResume(
  opts: TrainOptions,
  run: RunPlan,
  log: (line: string) => void,
): Promise<Resume | undefined> {
  const recovery = await recoverRunDir(run.ckptDir);
  for (const path of recovery.removed) log(`removed ${path}, left by an interrupted write`);
  for (const [aside, path] of recovery.restored) {
    log(`restored ${path} from ${aside}, set aside by an interrupted write`);
  }
  if (!run.resume) return undefined;
  const path = opts.resume === true
    ? await latestCheckpoint(run.ckptDir)
    : recovery.restored.get(resolve(run.resume.path)) ?? run.resume.path;
  if (path === undefined) {
    throw new UsageError(`Cannot resume run '${run.runName}': no checkpoint under ${run.ckptDir}`);
  }
  return path === run.resume.path ? run.resume : await checkedResume(path, opts);
}

function defaultRunName(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `run-${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${
    pad(d.getMinutes())
  }${pad(d.getSeconds())}`;
}
