/**
 * Convergence check against the PyTorch twin (issue 4): trains storyteller and ../shared/bench/torch_reference.py
 * (through tools/torch_convergence.py) on the same TinyStories tokens, hyperparameters, initial parameters and
 * batches, evaluates both on the same fixed validation windows, prints both curves and exits 1 when the final
 * validation losses differ by more than --tolerance (relative). `--independent` lets each side draw its own init and
 * batches (then seed noise dominates: see docs/benchmarks.md).
 *
 *   deno run -A tools/convergence.ts [-c tiny] [--set key=value …] [--python /usr/bin/python3] [--tolerance 0.02]
 */
import { Command } from "commander";
import { loadConfig } from "../src/config/mod.ts";
import { BatchSampler, prepareData } from "../src/data/mod.ts";
import { buildLayout } from "../src/model/layout.ts";
import { initParams } from "../src/model/init.ts";
import { train } from "../src/train/trainer.ts";
import { collect } from "../src/cli/_options.ts";

const DATA = new URL("../../shared/data/tinystories/", import.meta.url).pathname;
const HERE = new URL(".", import.meta.url).pathname;

interface Options {
  config: string;
  set: string[];
  python: string;
  reference?: string;
  tolerance: number;
  independent?: boolean;
  keep?: boolean;
  threads: number;
}

/** `step N val_loss X` lines of the torch side → [step, loss] pairs. */
export function parseTorchCurve(text: string): [number, number][] {
  return [...text.matchAll(/^step (\d+) val_loss ([\d.]+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
}

async function main(opts: Options): Promise<number> {
  const work = await Deno.makeTempDir({ prefix: "storyteller-convergence-" });
  const sets = [
    `data.train=${DATA}tinystories-train.txt`,
    `data.val=${DATA}tinystories-valid.txt`,
    "training.use_mlflow=false",
    `training.checkpoint_dir=${work}/checkpoints`,
    "training.sample_tokens=0",
    ...opts.set,
  ];
  const { config, source } = await loadConfig(opts.config, sets);
  const t = config.training;
  const T = config.model.max_seq_len;
  const data = await prepareData(config, { log: (l) => console.log(l), seqLen: T });
  console.log(
    `convergence: ${source}, ${t.max_steps} steps of ${t.batch_size}×${T}, lr ${t.learning_rate} → ${t.min_lr}, ` +
      `${data.stats.trainTokens.toLocaleString("en-US")} train / ${
        data.stats.valTokens.toLocaleString("en-US")
      } val tokens (${data.stats.dtype})`,
  );
  await Deno.writeTextFile(`${work}/config.json`, JSON.stringify(config));
  const torchArgs = [
    `${HERE}torch_convergence.py`,
    `${work}/config.json`,
    "--train-tokens",
    data.files.train,
    "--val-tokens",
    data.files.val,
    "--token-dtype",
    data.stats.dtype,
    "--threads",
    String(opts.threads),
    ...(opts.reference ? ["--reference", opts.reference] : []),
  ];
  if (!opts.independent) {
    // The trainer draws exactly these: initParams(layout, seed) and BatchSampler(train, seed).
    const layout = buildLayout(config.model);
    await Deno.writeFile(`${work}/init.f32`, new Uint8Array(initParams(layout, t.seed).buffer));
    const entries = layout.entries.map((e) => ({ name: e.name, shape: e.shape, offset: e.offset }));
    await Deno.writeTextFile(`${work}/layout.json`, JSON.stringify(entries));
    const sampler = new BatchSampler(data.train, { batchSize: t.batch_size, seqLen: T, seed: t.seed });
    const n = t.max_steps * t.grad_accum_steps;
    const per = t.batch_size * (T + 1);
    const all = data.stats.dtype === "uint16" ? new Uint16Array(n * per) : new Uint32Array(n * per);
    for (let i = 0; i < n; i++) all.set(sampler.next(), i * per);
    await Deno.writeFile(`${work}/batches.bin`, new Uint8Array(all.buffer));
    torchArgs.push(
      "--init-params",
      `${work}/init.f32`,
      "--init-layout",
      `${work}/layout.json`,
      "--batches",
      `${work}/batches.bin`,
    );
  }

  console.log("\n== PyTorch (torch_reference.py model) ==");
  const t0 = performance.now();
  const out = await new Deno.Command(opts.python, { args: torchArgs, stderr: "inherit" }).output();
  const torchText = new TextDecoder().decode(out.stdout);
  console.log(torchText.trimEnd());
  if (!out.success) {
    console.error(`Cannot run the PyTorch side: ${opts.python} exited with ${out.code}`);
    return 2;
  }
  const torchCurve = parseTorchCurve(torchText);
  console.log(`(${((performance.now() - t0) / 1000).toFixed(0)} s)`);

  console.log("\n== storyteller ==");
  const ours: [number, number][] = [];
  const t1 = performance.now();
  await train({
    config,
    runName: "convergence",
    hooks: {
      log: (l) => console.log(l),
      onEval: (p) => {
        ours.push([p.step, p.loss]);
        console.log(`step ${p.step} val_loss ${p.loss.toFixed(4)}`);
      },
    },
  });
  console.log(`(${((performance.now() - t1) / 1000).toFixed(0)} s)`);

  console.log("\n step   storyteller   pytorch    gap");
  for (const [step, loss] of ours) {
    const other = torchCurve.find(([s]) => s === step)?.[1];
    const gap = other === undefined ? "" : `${(100 * (loss - other) / other).toFixed(2).padStart(6)}%`;
    console.log(
      `${String(step).padStart(5)}   ${loss.toFixed(4).padStart(11)}   ${other?.toFixed(4) ?? "—"}  ${gap}`,
    );
  }
  if (!opts.keep) await Deno.remove(work, { recursive: true });
  else console.log(`files kept in ${work}`);
  const a = ours.at(-1), b = torchCurve.at(-1);
  if (!a || !b || a[0] !== b[0]) {
    console.error(
      "Cannot compare: the two runs did not both report a final validation loss at the same step",
    );
    return 2;
  }
  const gap = Math.abs(a[1] - b[1]) / b[1];
  const verdict = gap <= opts.tolerance ? "PASS" : "FAIL";
  console.log(
    `\nfinal val loss at step ${a[0]}: storyteller ${a[1].toFixed(4)}, pytorch ${b[1].toFixed(4)}, ` +
      `relative gap ${(100 * gap).toFixed(2)}% (tolerance ${(100 * opts.tolerance).toFixed(1)}%): ${verdict}`,
  );
  return gap <= opts.tolerance ? 0 : 1;
}

if (import.meta.main) {
  const program = new Command("convergence")
    .description("train storyteller and the PyTorch reference the same way and compare validation loss")
    .option("-c, --config <path-or-name>", "config file or embedded config name", "tiny")
    .option("--set <key=value>", "override a config value (repeatable)", collect, [])
    .option("--python <path>", "python with torch (Debian's python3-torch)", "/usr/bin/python3")
    .option("--reference <path>", "torch_reference.py (default ../shared/bench/torch_reference.py)")
    .option("--tolerance <x>", "allowed relative gap of the final val loss", Number, 0.02)
    .option("--threads <n>", "torch CPU threads (0 = default)", Number, 1)
    .option("--independent", "let each side draw its own init and batches")
    .option("--keep", "keep the temporary files (config, init, batches, checkpoints)");
  program.parse();
  Deno.exit(await main(program.opts<Options>()));
}
