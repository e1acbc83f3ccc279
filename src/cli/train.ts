/** `storyteller train`: train a model from a config (the built-in tiny config on the built-in corpus by default). */
import { Command } from "commander";
import { type Config, loadConfig } from "../config/mod.ts";
import { buildLayout, estimateTrainingMemory } from "../model/mod.ts";
import { toYaml } from "../yaml.ts";
import { collect } from "./_options.ts";
import { bold, dim, printWarning } from "./output.ts";
import { EtaEstimator, formatDuration, PhaseProgress, printable, ProgressLine } from "./_progress.ts";
import { type EvalPoint, type LogPoint, train, type TrainHooks } from "../train/trainer.ts";
import { RunTracker } from "../train/tracking.ts";
import { fileUriToPath } from "../tracking/mod.ts";
import { basename, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { tuningEnabled } from "../kernels/tune.ts";

/** The longest a second Ctrl-C waits for the GPU's step in flight before it exits. */
const QUIT_WAIT_MS = 3000;
/**
 * The signals that stop a training like Ctrl-C (checkpoint, run KILLED), with the exit code of each: 128 + the
 * signal's number, as a shell reports a process the signal ended. SIGTERM is what `kill` and `timeout` send,
 * SIGHUP what a closed terminal sends.
 */
const STOP_SIGNALS: [Deno.Signal, number][] = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]];
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface TrainOptions {
  config?: string;
  set: string[];
  dryRun?: boolean;
  resume?: string | boolean;
  /** false with --no-tune: the adapter's default kernel variants, no timing (also STORYTELLER_TUNING=off). */
  tune: boolean;
}

export function trainCommand(): Command {
  return new Command("train")
    .description("train a model (default: the embedded 'tiny' config on the built-in story corpus)")
    .option("-c, --config <path-or-name>", "config file, or an embedded config: tiny, base_model, moe_model")
    .option(
      "--set <key=value>",
      "override a config value, e.g. training.learning_rate=1e-3 (repeatable)",
      collect,
      [],
    )
    .option("--dry-run", "print the resolved config, parameter count and memory estimate, then exit")
    .option(
      "--resume [checkpoint]",
      "continue a run: alone, the named run (training.mlflow_run_name) or else the run that checkpointed last; or the given checkpoint directory",
    )
    .option(
      "--no-tune",
      "run the adapter's default kernel variants instead of timing them on first use (storyteller tune)",
    )
    .action(async (opts: TrainOptions) => {
      const { config, source } = await loadConfig(opts.config, opts.set);
      if (opts.dryRun) {
        console.log(describeDryRun(config, source));
        return;
      }
      await runTraining(config, opts.resume, opts.tune && tuningEnabled());
    });
}

/**
 * Runs the trainer with terminal progress and run tracking (unless training.use_mlflow is false). Ctrl-C (or
 * SIGTERM, SIGHUP) finishes the step, checkpoints, marks the run KILLED and exits 130 (143, 129); a second one quits
 * at once. An exception marks the run FAILED and is rethrown.
 */
async function runTraining(
  config: Config,
  resume: string | boolean | undefined,
  tuneKernels: boolean,
): Promise<void> {
  const tty = Deno.stdout.isTerminal();
  const stop = { requested: false };
  const t = config.training;
  const started = performance.now();
  let startStep = 0;
  let trainStarted = started;
  const eta = new EtaEstimator();
  let lastLog: LogPoint | undefined;
  let lastEval: EvalPoint | undefined;
  let evalProgress: PhaseProgress | undefined;
  const encoder = new TextEncoder();
  const columns = () => {
    try {
      return Deno.consoleSize().columns;
    } catch {
      return undefined;
    }
  };
  // Not a TTY: plain console.log lines (what pipes, logs and in-process tests read).
  const write = tty
    ? (s: string) => Deno.stdout.writeSync(encoder.encode(s))
    : (s: string) => console.log(s.replace(/\n$/, ""));
  const bar = new ProgressLine(write, tty, columns);
  // Tracking warnings and notes go to stderr, with the progress line lifted out of their way.
  const tracker = config.training.use_mlflow
    ? new RunTracker(config, {
      warn: (m) => bar.interrupt(() => printWarning(m)),
      info: (m) => bar.interrupt(() => console.error(m)),
    })
    : undefined;
  let device: GPUDevice | undefined; // set once training starts
  let stopCode = 0;
  const onStop = (signal: Deno.Signal, code: number) => {
    stopCode = code;
    if (stop.requested) {
      // Quit now, but not under the GPU's feet: exiting while the driver still runs queued work can abort the
      // process at exit, so wait for the step in flight (at most QUIT_WAIT_MS).
      const idle = device
        ? Promise.race([device.queue.onSubmittedWorkDone().catch(() => {}), delay(QUIT_WAIT_MS)])
        : Promise.resolve();
      void Promise.all([tracker?.abort() ?? Promise.resolve(), idle]).finally(() => Deno.exit(code));
      return;
    }
    stop.requested = true;
    const again = signal === "SIGINT" ? "Ctrl-C again" : `${signal} again`;
    console.error(
      `\n${signal === "SIGINT" ? "" : `${signal}: `}stopping after this step (${again} to quit at once)…`,
    );
  };
  const listeners = STOP_SIGNALS.flatMap(([signal, code]) => {
    const listener = () => onStop(signal, code);
    try {
      Deno.addSignalListener(signal, listener);
    } catch {
      return []; // a signal this OS does not have (Windows knows only SIGINT and SIGBREAK)
    }
    return [[signal, listener] as const];
  });
  try {
    const hooks: TrainHooks = {
      log: (line) => bar.print(dim(line)),
      onStart: ({ runName, gpu, data, paramCount, startStep: s }) => {
        startStep = s;
        device = gpu.device;
        trainStarted = performance.now();
        bar.print(
          `${bold("training")} ${runName}: ${paramCount.toLocaleString("en-US")} parameters on ` +
            `${gpu.summary.description}; ${data.stats.trainTokens.toLocaleString("en-US")} train / ` +
            `${data.stats.valTokens.toLocaleString("en-US")} val tokens`,
        );
        if (tracker?.runId) bar.print(describeTracking(tracker));
      },
      onLog: (p: LogPoint) => {
        lastLog = p;
        const elapsed = (performance.now() - trainStarted) / 1000;
        const etaSeconds = eta.add(p.step, elapsed, startStep, t.max_steps);
        bar.update({ ...p, maxSteps: t.max_steps, etaSeconds });
      },
      onEvalProgress: (step, done, total) => {
        if (done === 1) evalProgress = new PhaseProgress(`eval at step ${step}`, (l) => bar.print(dim(l)), 1);
        evalProgress?.tick(done, total);
      },
      onEval: (p: EvalPoint) => {
        lastEval = p;
        bar.print(
          `${bold("eval")} step ${p.step}: val loss ${p.loss.toFixed(4)}, perplexity ${
            p.perplexity.toFixed(2)
          }`,
        );
        if (p.sample) bar.print(`${dim("sample:")} ${printable(p.sample)}`);
      },
      onCheckpoint: (path) => bar.print(dim(`checkpoint ${path}`)),
    };
    let result;
    try {
      result = await train({
        config,
        resume,
        stop,
        hooks: tracker ? tracker.hooks(hooks) : hooks,
        tuneKernels,
      });
    } catch (err) {
      await tracker?.fail(err);
      throw err;
    }
    bar.clear();
    await tracker?.finish(result);
    const stopped = result.interrupted || stop.requested;
    const signal = STOP_SIGNALS.find(([, code]) => code === stopCode)?.[0] ?? "SIGINT";
    console.log(summaryLine({
      steps: result.steps,
      seconds: (performance.now() - started) / 1000,
      stoppedBy: stopped ? (signal === "SIGINT" ? "Ctrl-C" : signal) : undefined,
      train: lastLog && { step: lastLog.step, loss: lastLog.loss },
      val: result.finalValLoss !== undefined
        ? { step: result.steps, loss: result.finalValLoss }
        : lastEval && { step: lastEval.step, loss: lastEval.loss },
    }));
    // A run in the fallback store is not at the tracking URI that runs:/ resolves against: name its files.
    const runId = tracker?.fallbackRoot ? undefined : result.runId ?? tracker?.runId;
    for (const line of nextSteps(runId, result.modelDir, stopped)) console.log(line);
    if (stopped) Deno.exitCode = stopCode || 130;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

/** What the last line of a training says: done or stopped, and which losses are current (and from which step). */
export interface TrainSummary {
  steps: number;
  seconds: number;
  /** "Ctrl-C", "SIGTERM", "SIGHUP" when a stop ended it. */
  stoppedBy?: string;
  train?: { step: number; loss: number };
  val?: { step: number; loss: number };
}

/**
 * "done: 300 steps in 31s; train loss 1.4920 (step 300), val loss 1.5490 (step 300)", or for a stopped run
 * "stopped (Ctrl-C) at step 80 after 25s; train loss 3.5100 (step 80), val loss 6.2415 (step 0's evaluation)".
 */
export function summaryLine(s: TrainSummary): string {
  const losses = [
    s.train && `train loss ${s.train.loss.toFixed(4)} (step ${s.train.step})`,
    s.val &&
    `val loss ${s.val.loss.toFixed(4)} (${
      s.stoppedBy || s.val.step !== s.steps ? `step ${s.val.step}'s evaluation` : `step ${s.val.step}`
    })`,
  ].filter(Boolean).join(", ");
  const head = s.stoppedBy
    ? `${bold("stopped")} (${s.stoppedBy}) at step ${s.steps} after ${formatDuration(s.seconds)}`
    : `${bold("done")}: ${s.steps} steps in ${formatDuration(s.seconds)}`;
  return losses ? `${head}; ${losses}` : head;
}

/**
 * How to type storyteller on this machine: the compiled binary's path, or from source the README's form
 * `npx -y deno@2.9.6 run -A <main.ts>` (the CLI is not on PATH then).
 */
export function cliCommand(
  execPath = Deno.execPath(),
  mainModule = Deno.mainModule,
  cwd = Deno.cwd(),
): string {
  const exe = basename(execPath);
  if (!/^deno(\.exe)?$/i.test(exe)) {
    const rel = relative(cwd, execPath);
    return rel.startsWith("..") || isAbsolute(rel) ? execPath : `./${rel}`;
  }
  let main = mainModule;
  try {
    const path = fileURLToPath(mainModule);
    const rel = relative(cwd, path);
    main = rel.startsWith("..") ? path : rel;
  } catch { /* not a file URL: keep it */ }
  return `npx -y deno@${Deno.version.deno} run -A ${main}`;
}

/** The model's URI and the commands that use it next, as the user can type them. */
export function nextSteps(
  runId: string | undefined,
  modelDir: string,
  stopped: boolean,
  cli = cliCommand(),
): string[] {
  const model = runId ? `runs:/${runId}/model` : modelDir;
  const lines = [`${bold("model")}: ${model}${runId ? ` (files in ${modelDir})` : ""}`];
  if (stopped) lines.push(`${bold("continue")}: ${cli} train --resume`);
  lines.push(
    `${bold("next")}: ${cli} generate -m ${model} --prompt "Once upon a time"`,
    `      ${cli} serve -m ${model}`,
    `      ${cli} ui`,
  );
  return lines;
}

/** "tracking: run <id> …" and how to look at it. */
function describeTracking(tracker: RunTracker): string {
  const http = tracker.trackingUri.startsWith("http") && !tracker.fallbackRoot;
  const root = tracker.fallbackRoot ?? (http ? "" : fileUriToPath(tracker.trackingUri));
  const view = http
    ? `${tracker.trackingUri}/#/experiments/${tracker.experimentId}/runs/${tracker.runId}`
    : root === resolve("mlruns")
    ? "storyteller ui"
    : `storyteller ui --backend-store-uri ${root}`;
  return `${bold("tracking")}: run ${tracker.runId} in experiment ` +
    `'${tracker.config.training.mlflow_experiment_name}' at ${
      http ? tracker.trackingUri : root
    }; view it with: ${view}`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** The text `train --dry-run` prints. */
export function describeDryRun(config: Config, source: string): string {
  const layout = buildLayout(config.model);
  const mem = estimateTrainingMemory(config.model, config.training.batch_size, {
    amp: config.training.use_amp,
  });
  return [
    `# resolved config (from ${source})`,
    toYaml(config).trimEnd(),
    "",
    `${bold("parameters")}: ${layout.count.toLocaleString("en-US")} (${layout.entries.length} tensors)`,
    `${bold("memory estimate")}: ${mib(mem.total)} ` +
    `(weights ${mib(mem.params)}, gradients ${mib(mem.grads)}, AdamW ${mib(mem.optimizer)}, ` +
    `activations ${mib(mem.activations)} at batch ${config.training.batch_size}` +
    (mem.amp > 0 ? `, 16-bit copies and AMP scratch ${mib(mem.amp)})` : ")"),
  ].join("\n");
}
