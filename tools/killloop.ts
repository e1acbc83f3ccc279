/**
 * The kill loop (issue 15 item 7): a tiny tracked training killed with SIGKILL at random moments (data preparation
 * and the tokenizer, steps, checkpoint writes, evaluations, the finish) and resumed after each kill; then every file
 * of the store parses, every checkpoint loads, and each step the final checkpoint covers has exactly one point per
 * metric and its sample, with nothing left staged. Seeded: `--seed` replays the same phases and delays (where a
 * kill lands still depends on timing). Too slow for the suite; tests/train_kill_test.ts runs a short fixed plan.
 *
 *   deno run -A tools/killloop.ts [--seed 1] [--kills 24] [--max-steps 60] [--keep]
 */
import { Command } from "commander";
import { join } from "node:path";
import { loadConfig } from "../src/config/mod.ts";
import { buildLayout } from "../src/model/layout.ts";
import { latestCheckpoint, loadCheckpoint, readTrainState } from "../src/model/checkpoint.ts";
import { readMLmodel } from "../src/model/mlmodel.ts";
import { openTracking } from "../src/tracking/mod.ts";
import { sampleFileName } from "../src/train/tracking_staging.ts";
import { smallSets } from "../tests/_small.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const RUN = "kill";
const TRAIN_KEYS = ["train/loss", "train/learning_rate", "train/grad_norm", "train/tokens_per_sec"];
const VAL_KEYS = ["val/loss", "val/perplexity"];

/** Where a kill is aimed: before the first step, at a step, at a checkpoint write, at an evaluation, at the end. */
export type Phase = "prepare" | "step" | "checkpoint" | "eval" | "finish";

export interface KillLoopOptions {
  /** A fresh directory for the store, checkpoints, token cache and the trainings' temp dir. */
  dir: string;
  seed: number;
  /** SIGKILLs to deliver (segments that end before their kill do not count). */
  kills: number;
  maxSteps: number;
  /** Fixed phases instead of random ones (cycled); delays stay seeded. */
  plan?: Phase[];
  log?: (line: string) => void;
}

export interface KillLoopReport {
  kills: number;
  byPhase: Record<Phase, number>;
  segments: number;
  /** Runs besides the checkpointed one: trainings killed before their first checkpoint. */
  orphanRuns: number;
  violations: string[];
}

/** The sets of the training: 2-step logs, evaluations every 6, checkpoints every 4 (keep 3), samples of 6 tokens. */
export function killSets(dir: string, maxSteps: number): string[] {
  return smallSets(dir, [
    `training.max_steps=${maxSteps}`,
    "training.log_interval=2",
    "training.eval_interval=6",
    "training.eval_steps=1",
    "training.sample_tokens=6",
    "training.checkpoint_interval=4",
    "training.checkpoint_keep=3",
    `training.checkpoint_dir=${dir}/ckpt`,
    `training.mlflow_run_name=${RUN}`,
    `training.mlflow_tracking_uri=${dir}/mlruns`,
  ]);
}

/** xorshift32: the seeded choices of phases and delays. */
function rng(seed: number): () => number {
  let x = (seed >>> 0) || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Kills and resumes until `kills` SIGKILLs landed, trains to the end, resumes once more, then checks the run. */
export async function killLoop(o: KillLoopOptions): Promise<KillLoopReport> {
  const log = o.log ?? console.log;
  const random = rng(o.seed);
  const sets = killSets(o.dir, o.maxSteps);
  const ckptDir = `${o.dir}/ckpt/${RUN}`;
  await Deno.mkdir(`${o.dir}/tmp`, { recursive: true });
  await Deno.mkdir(`${o.dir}/xdg`, { recursive: true });
  const report: KillLoopReport = {
    kills: 0,
    byPhase: { prepare: 0, step: 0, checkpoint: 0, eval: 0, finish: 0 },
    segments: 0,
    orphanRuns: 0,
    violations: [],
  };
  const segment = async (phase?: Phase) => {
    const from = Math.max(0, await checkpointStep(ckptDir));
    const resume = (await latestCheckpoint(ckptDir)) !== undefined;
    report.segments++;
    const r = await runSegment(o.dir, sets, resume, phase && { phase, from, maxSteps: o.maxSteps, random });
    const at = r.lastLine ? ` after "${r.lastLine.slice(0, 60)}"` : "";
    if (r.killed) {
      report.kills++;
      report.byPhase[phase!]++;
      log(`kill ${report.kills}: ${phase} (from step ${from}, +${r.delayMs} ms${at})`);
    } else if (r.code !== 0) {
      report.violations.push(
        `a training exited ${r.code}${at}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`,
      );
    } else log(`segment ${report.segments} finished before its ${phase ?? "(no)"} kill (from step ${from})`);
    return r;
  };
  while (report.kills < o.kills && report.violations.length === 0) {
    if (report.segments >= 4 * o.kills + 10) {
      report.violations.push(
        `only ${report.kills} of ${o.kills} kills landed in ${report.segments} trainings`,
      );
      break;
    }
    const from = await checkpointStep(ckptDir);
    // The finish is aimed at once the run is near its end (before, a segment would train to the end); after it,
    // the resumes of the finished run are aimed at.
    const choices: Phase[] = from === o.maxSteps
      ? ["prepare", "finish"]
      : from >= o.maxSteps - 8
      ? ["finish", "finish", "eval", "checkpoint"]
      : ["prepare", "step", "checkpoint", "eval"];
    const phase = o.plan
      ? o.plan[report.kills % o.plan.length]
      : choices[Math.floor(random() * choices.length)];
    // A cold token cache makes the next start train the tokenizer, for a kill to land there.
    if (phase === "prepare" && random() < 0.5) {
      await Deno.remove(`${o.dir}/cache`, { recursive: true }).catch(() => {});
    }
    await segment(phase);
  }
  await segment(); // to the end
  await segment(); // a resume of the finished run: must change nothing
  report.violations.push(...await checkRun(o.dir, sets, o.maxSteps, report));
  return report;
}

/** The step of the latest checkpoint (-1: none yet). */
async function checkpointStep(ckptDir: string): Promise<number> {
  const latest = await latestCheckpoint(ckptDir);
  return latest === undefined ? -1 : (await readTrainState(latest)).step;
}

interface Aim {
  phase: Phase;
  from: number;
  maxSteps: number;
  random: () => number;
}

/** One `storyteller train` (`--resume` when a checkpoint exists), killed with SIGKILL where `aim` says. */
async function runSegment(dir: string, sets: string[], resume: boolean, aim?: Aim) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", join(ROOT, "main.ts"), "train", "--config", join(ROOT, "configs/tiny.yaml")],
      ...sets.flatMap((s) => ["--set", s]),
      ...(resume ? ["--resume"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
    // XDG_RUNTIME_DIR set: without it src/gpu/device.ts makes an st-xdg-* temp dir per process and leaves it.
    env: { NO_COLOR: "1", TMPDIR: `${dir}/tmp`, XDG_RUNTIME_DIR: `${dir}/xdg` },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let killed = false;
  let delayMs = 0;
  let lastLine = "";
  const kill = (ms: number) => {
    delayMs = Math.round(ms);
    setTimeout(() => {
      try {
        child.kill("SIGKILL");
        killed = true;
      } catch { /* it exited first */ }
    }, ms);
  };
  const r = aim?.random ?? Math.random;
  if (aim?.phase === "prepare") kill(r() * 700);
  const target = aim ? aim.from + 1 + Math.floor(r() * 8) : 0; // often past a checkpoint: the run moves on
  let armed = aim === undefined || aim.phase === "prepare";
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      if (!killed) lastLine = line;
      if (armed) continue;
      const step = Number(/^step +(\d+)\//.exec(line)?.[1] ?? NaN);
      const evalAt = Number(/^eval step (\d+):/.exec(line)?.[1] ?? NaN);
      const fire = aim!.phase === "step"
        ? step >= target
        : aim!.phase === "checkpoint"
        ? step > aim!.from && step % 4 === 0 // the checkpoint of this step is being written now
        : aim!.phase === "eval"
        ? evalAt > aim!.from || (evalAt === 0 && aim!.from === 0)
        : evalAt === aim!.maxSteps || /^checkpoint .*\/step_(\d+)$/.exec(line)?.[1] === String(aim!.maxSteps);
      if (!fire) continue;
      armed = true;
      const window = { step: 60, checkpoint: 120, eval: 30, finish: 150, prepare: 0 }[aim!.phase];
      kill(r() * window);
    }
  }
  const status = await child.status;
  return {
    killed: killed && status.signal === "SIGKILL",
    code: status.code,
    delayMs,
    lastLine,
    stderr: await stderr,
  };
}

/**
 * The checks after the loop: every store file parses, every checkpoint loads, the run is FINISHED with one model
 * entry, each step up to the final checkpoint has exactly one point per metric and its sample, nothing is staged.
 */
export async function checkRun(
  dir: string,
  sets: string[],
  maxSteps: number,
  report?: KillLoopReport,
): Promise<string[]> {
  const bad: string[] = [];
  const { config } = await loadConfig(join(ROOT, "configs/tiny.yaml"), sets);
  const t = config.training;
  const ckptDir = `${dir}/ckpt/${RUN}`;
  const layout = buildLayout(config.model);
  for await (const e of Deno.readDir(ckptDir)) {
    if (/\.(tmp|old)-/.test(e.name)) bad.push(`${e.name} was left in ${ckptDir}`);
    if (!/^step_\d+$/.test(e.name)) continue;
    await loadCheckpoint(join(ckptDir, e.name), layout).catch((err) => bad.push(`${e.name}: ${err.message}`));
  }
  await readMLmodel(`${ckptDir}/model`).catch((err) => bad.push(`model: ${err.message}`));
  const latest = (await latestCheckpoint(ckptDir))!;
  const state = await readTrainState(latest);
  if (state.step !== maxSteps) bad.push(`the final checkpoint is at step ${state.step}, not ${maxSteps}`);
  const store = openTracking(`${dir}/mlruns`);
  const { runs } = await store.searchRuns({ experimentNames: [t.mlflow_experiment_name], viewType: "ALL" });
  for (const run of runs) {
    await store.getRun(run.info.runId); // meta.yaml, params and tags parse
    for (const key of Object.keys(run.data.metrics)) await store.getMetricHistory(run.info.runId, key);
  }
  if (report) report.orphanRuns = runs.filter((r) => r.info.runId !== state.runId).length;
  const run = await store.getRun(state.runId!);
  if (run.info.status !== "FINISHED") bad.push(`the run is ${run.info.status}`);
  const history = JSON.parse(run.data.tags["mlflow.log-model.history"] ?? "[]");
  if (history.length !== 1) bad.push(`the model history has ${history.length} entries, not 1`);
  const F = state.step;
  const logSteps = range(F).filter((s) => s > 0 && (s % t.log_interval === 0 || s === t.max_steps));
  const evalSteps = range(F).filter((s) => s === 0 || s % t.eval_interval === 0 || s === t.max_steps);
  const expect: [string[], number[]][] = [[TRAIN_KEYS, logSteps], [VAL_KEYS, evalSteps]];
  for (const [keys, steps] of expect) {
    for (const key of keys) {
      const counts = new Map<number, number>();
      for (const m of await store.getMetricHistory(state.runId!, key)) {
        counts.set(m.step, (counts.get(m.step) ?? 0) + 1);
      }
      for (const s of steps) {
        if (counts.get(s) !== 1) bad.push(`${key} has ${counts.get(s) ?? 0} points at step ${s}`);
      }
      for (const s of counts.keys()) if (!steps.includes(s)) bad.push(`${key} has a point at step ${s}`);
    }
  }
  const samples = (await store.listArtifacts(state.runId!, "samples")).map((a) => a.path).sort();
  const want = evalSteps.map((s) => `samples/${sampleFileName(s)}`);
  for (const s of want) if (!samples.includes(s)) bad.push(`${s} is missing`);
  for (const s of samples) if (!want.includes(s)) bad.push(`${s} should not be there`);
  if (await exists(`${ckptDir}/staging`)) bad.push(`${ckptDir}/staging is still there`);
  if (await exists(`${ckptDir}/mlruns`)) bad.push(`a fallback store was written in ${ckptDir}/mlruns`);
  for await (const e of Deno.readDir(`${dir}/tmp`)) bad.push(`${e.name} was left in the temp dir`);
  return bad;
}

function range(last: number): number[] {
  return Array.from({ length: last + 1 }, (_, i) => i);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

if (import.meta.main) {
  await new Command("killloop")
    .option("--seed <n>", "seed of the phases and delays", Number, 1)
    .option("--kills <n>", "SIGKILLs to deliver", Number, 24)
    .option("--max-steps <n>", "training.max_steps", Number, 60)
    .option("--keep", "keep the work directory")
    .action(async (opts: { seed: number; kills: number; maxSteps: number; keep?: boolean }) => {
      const dir = await Deno.makeTempDir({ prefix: "storyteller-killloop-" });
      const started = performance.now();
      try {
        const r = await killLoop({ dir, seed: opts.seed, kills: opts.kills, maxSteps: opts.maxSteps });
        const phases = Object.entries(r.byPhase).map(([p, n]) => `${p} ${n}`).join(", ");
        console.log(
          `seed ${opts.seed}: ${r.kills} kills survived (${phases}) in ${r.segments} trainings, ` +
            `${r.orphanRuns} orphan runs, ${r.violations.length} violations, ` +
            `${((performance.now() - started) / 1000).toFixed(0)} s`,
        );
        for (const v of r.violations) console.log(`violation: ${v}`);
        Deno.exitCode = r.violations.length ? 1 : 0;
      } finally {
        if (opts.keep) console.log(`work directory: ${dir}`);
        else await Deno.remove(dir, { recursive: true });
      }
    })
    .parseAsync(["deno", "killloop", ...Deno.args]);
}
