/** `storyteller train`: train a model from a config (the built-in tiny config on the built-in corpus by default). */
import { Command } from "commander";
import { type Config, loadConfig } from "../config/mod.ts";
import { buildLayout, estimateTrainingMemory } from "../model/mod.ts";
import { toYaml } from "../yaml.ts";
import { collect } from "./_options.ts";
import { bold, dim, printWarning } from "./output.ts";
import { estimateEta, formatDuration, printable, ProgressLine } from "./_progress.ts";
import { type EvalPoint, type LogPoint, train, type TrainHooks } from "../train/trainer.ts";
import { RunTracker } from "../train/tracking.ts";
import { fileUriToPath } from "../tracking/mod.ts";
import { resolve } from "node:path";
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
        const elapsed = (performance.now() - trainStarted) / 1000;
        const etaSeconds = estimateEta(p.step, startStep, t.max_steps, elapsed);
        bar.update({ ...p, maxSteps: t.max_steps, etaSeconds });
      },
      onEval: (p: EvalPoint) => {
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
    console.log(
      `${bold("done")}: ${result.steps} steps in ${formatDuration((performance.now() - started) / 1000)}` +
        (result.finalValLoss !== undefined ? `, val loss ${result.finalValLoss.toFixed(4)}` : "") +
        `; model in ${result.modelDir}`,
    );
    if (result.interrupted || stop.requested) Deno.exitCode = stopCode || 130;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
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
