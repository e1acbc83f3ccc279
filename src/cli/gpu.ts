/** `storyteller gpu`: adapter, features, requested limits, and a 2-second matmul self-test. */
import { Command } from "commander";
import { closeGpu, openGpu } from "../gpu/mod.ts";
import { matmulSelfTest } from "../gpu/selftest.ts";
import { bold, green } from "./output.ts";

/** PCI vendor ids (and Khronos' ids for vendors without one) as adapters report them in `vendor`. */
const VENDORS: Record<number, string> = {
  0x1002: "AMD",
  0x1010: "Imagination",
  0x106b: "Apple",
  0x10de: "NVIDIA",
  0x13b5: "ARM",
  0x14e4: "Broadcom",
  0x5143: "Qualcomm",
  0x8086: "Intel",
  0x10001: "Vivante",
  0x10002: "VeriSilicon",
  0x10003: "Kazan",
  0x10004: "Codeplay",
  0x10005: "Mesa",
  0x10006: "PoCL",
  0x10007: "Mobileye",
};

/** The adapter's vendor by name: "Mesa (0x10005)" for a numeric id, the text as given otherwise. */
export function vendorName(vendor: string): string {
  if (!vendor) return "(not reported)";
  const id = /^(0x[0-9a-f]+|\d+)$/i.test(vendor.trim()) ? Number(vendor.trim()) : NaN;
  if (!Number.isSafeInteger(id)) return vendor;
  const hex = `0x${id.toString(16)}`;
  return VENDORS[id] ? `${VENDORS[id]} (${hex})` : `unknown vendor ${hex}`;
}

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
        ["vendor", vendorName(s.vendor)],
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
