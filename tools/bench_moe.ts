/**
 * MoE speed check: full training steps (forward, loss, backward, AdamW) of an MoE config against the dense model
 * with the same active parameters (intermediate_size = top_k · I, no experts), same batch and sequence, same GPU,
 * plus the MoE run's heaviest kernels. The bar: top-2 of 4 experts costs ≤ 1.3× the dense step. The two
 * models alternate for --repeats rounds and the best time of each counts (a shared machine is noisy).
 *
 *   deno run -A tools/bench_moe.ts [--config moe_model] [--set key=value ...] [--steps 10] [--warmup 3] [--repeats 3]
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/mod.ts";
import { openGpu } from "../src/gpu/mod.ts";
import { activeParamCount, buildLayout } from "../src/model/layout.ts";
import { type BenchResult, benchTraining } from "../src/train/bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    config: { type: "string", default: "moe_model" },
    set: { type: "string", multiple: true, default: [] },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    repeats: { type: "string", default: "3" },
  },
});
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const moe = (await loadConfig(values.config, values.set)).config;
if (moe.model.moe.num_experts <= 0) throw new Error(`Cannot compare: ${values.config} has no experts`);
const dense = structuredClone(moe);
const I = moe.model.intermediate_size ?? 4 * moe.model.hidden_size;
dense.model.intermediate_size = I * moe.model.moe.top_k;
dense.model.moe = { ...moe.model.moe, num_experts: 0 };

const gpu = await openGpu("auto");
const B = moe.training.batch_size;
const T = moe.model.max_seq_len;
const m = moe.model.moe;
console.log(`${gpu.summary.description}; batch ${B}×${T}; ${steps} steps`);
const runs = [["dense", dense], [`moe top-${m.top_k}/${m.num_experts}`, moe]] as const;
const best: (BenchResult | undefined)[] = [undefined, undefined];
for (let round = 0; round < Number(values.repeats); round++) {
  for (const [i, [, c]] of runs.entries()) {
    const r = await benchTraining(gpu, c, steps, warmup);
    if (!best[i] || r.msPerStep < best[i]!.msPerStep) best[i] = r;
  }
}
for (const [i, [name, c]] of runs.entries()) {
  const r = best[i]!;
  const total = (buildLayout(c.model).count / 1e6).toFixed(2);
  const active = (activeParamCount(c.model) / 1e6).toFixed(2);
  console.log(
    `${name.padEnd(16)} params ${total}M (active ${active}M)  ${r.msPerStep.toFixed(2)} ms/step  ${
      Math.round(r.tokensPerSec).toLocaleString("en-US")
    } tok/s`,
  );
  if (i === 1) {
    for (const k of r.kernels.slice(0, 12)) {
      console.log(`    ${k.label.padEnd(48)} ${k.msPerStep.toFixed(3)} ms  ×${k.count}`);
    }
  }
}
console.log(
  `moe / dense step time (best of ${values.repeats}): ${
    (best[1]!.msPerStep / best[0]!.msPerStep).toFixed(3)
  }×`,
);
