/** `storyteller gpu`: adapter, features, requested limits, and a 2-second matmul self-test. */
import { Command } from "commander";
import { closeGpu, openGpu } from "../gpu/mod.ts";
import { matmulSelfTest } from "../gpu/selftest.ts";
import { bold, green } from "./output.ts";

interface GpuOptions {
  device: "auto" | "gpu" | "cpu";
  seconds: string;
  selftest: boolean;
}

export function gpuCommand(): Command {
  return new Command("gpu")
    .description("describe the WebGPU adapter and run a 2-second matmul self-test")
    .option("--device <which>", "auto, gpu (refuse CPU adapters) or cpu (the fallback adapter)", "auto")
    .option("--seconds <s>", "length of the timed self-test", "2")
    .option("--no-selftest", "only describe the adapter")
    .action(async (opts: GpuOptions) => {
      const gpu = await openGpu(opts.device);
      const s = gpu.summary;
      const rows: [string, string][] = [
        ["adapter", s.description],
        ["vendor", s.vendor || "(not reported)"],
        ["architecture", s.architecture || "(not reported)"],
        ["fallback / CPU adapter", s.isFallback ? "yes" : "no"],
        ["shader-f16", gpu.hasF16 ? "yes" : "no"],
        ["timestamp-query", gpu.hasTimestamps ? "yes" : "no"],
        ["features", s.features.join(", ")],
      ];
      for (const [k, v] of rows) console.log(`${bold(k.padEnd(24))} ${v}`);
      console.log(bold("requested limits"));
      for (const [k, v] of Object.entries(gpu.limits)) {
        console.log(`  ${k.padEnd(36)} ${v.toLocaleString("en-US")}`);
      }
      if (!opts.selftest) return;
      const seconds = Number(opts.seconds);
      const r = await matmulSelfTest(gpu, Number.isFinite(seconds) && seconds > 0 ? seconds : 2);
      const ok = r.maxError < 1e-3;
      console.log(
        `${bold("matmul self-test")}         ${ok ? green("ok") : "FAILED"} (max error ${
          r.maxError.toExponential(2)
        } ` +
          `on 97×83×71); ${r.n}×${r.n}×${r.n} f32: ${r.gflops.toFixed(2)} GFLOP/s ` +
          `(${r.matmuls} matmuls in ${r.seconds.toFixed(2)} s)`,
      );
      await closeGpu(gpu);
      if (!ok) {
        throw new Error(`Cannot trust this adapter: matmul self-test error ${r.maxError} exceeds 1e-3`);
      }
    });
}
