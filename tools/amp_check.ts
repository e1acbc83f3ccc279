/**
 * AMP accuracy check: trains one config in float32, float16 and bfloat16 AMP (same seed, data and steps) and
 * compares the final validation losses against float32 (issue 7: within 1%). Not a test: minutes on lavapipe.
 *
 *   deno run -A tools/amp_check.ts [-c tiny] [--set key=value ...] [--dtypes float32,float16,bfloat16]
 */
import { loadConfig } from "../src/config/mod.ts";
import { type LogPoint, train } from "../src/train/trainer.ts";

const args = [...Deno.args];
let configName = "tiny";
const sets: string[] = [];
let dtypes = ["float32", "float16", "bfloat16"];
while (args.length) {
  const a = args.shift()!;
  if (a === "-c" || a === "--config") configName = args.shift()!;
  else if (a === "--set") sets.push(args.shift()!);
  else if (a === "--dtypes") dtypes = args.shift()!.split(",");
  else {
    console.error(`Cannot parse argument ${a}: expected -c <config>, --set key=value or --dtypes a,b`);
    Deno.exit(2);
  }
}

const dir = await Deno.makeTempDir({ prefix: "amp_check_" });
const results: {
  dtype: string;
  val: number;
  train: number;
  seconds: number;
  skipped: number;
  scale: number;
}[] = [];
try {
  for (const dtype of dtypes) {
    const amp = dtype === "float32"
      ? ["training.use_amp=false"]
      : ["training.use_amp=true", `training.amp_dtype=${dtype}`];
    const { config } = await loadConfig(configName, [
      ...sets,
      ...amp,
      `training.checkpoint_dir=${dir}/ckpt`,
      "training.sample_tokens=0",
    ]);
    let last: LogPoint | undefined;
    const started = performance.now();
    const r = await train({
      config,
      runName: `amp-${dtype}`,
      hooks: { log: () => {}, onLog: (p) => (last = p) },
    });
    const seconds = (performance.now() - started) / 1000;
    results.push({
      dtype,
      val: r.finalValLoss ?? NaN,
      train: last?.loss ?? NaN,
      seconds,
      skipped: last?.extra?.["train/skipped_steps"] ?? 0,
      scale: last?.extra?.["train/loss_scale"] ?? 1,
    });
    console.log(
      `${dtype.padEnd(9)} final val loss ${r.finalValLoss?.toFixed(6)}  last train loss ${
        last?.loss.toFixed(6)
      }  ` +
        `${seconds.toFixed(0)} s  (${r.steps} steps)`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const base = results.find((r) => r.dtype === "float32");
console.log(
  "\n| dtype | final val loss | vs float32 | last train loss | wall s | skipped steps | final loss scale |",
);
console.log("|---|---|---|---|---|---|---|");
for (const r of results) {
  const rel = base ? `${(100 * (r.val - base.val) / base.val).toFixed(3)}%` : "–";
  console.log(
    `| ${r.dtype} | ${r.val.toFixed(5)} | ${rel} | ${r.train.toFixed(5)} | ${
      r.seconds.toFixed(0)
    } | ${r.skipped} | ${r.scale} |`,
  );
}
const worst = base ? Math.max(...results.map((r) => Math.abs(r.val - base.val) / base.val)) : 0;
if (base && !(worst <= 0.01)) {
  console.error(
    `AMP check failed: a final validation loss is ${(100 * worst).toFixed(2)}% from float32 (limit 1%)`,
  );
  Deno.exit(1);
}
