/**
 * Adapter and device: the one place storyteller asks WebGPU for hardware. Requests the adapter's own maxima (the
 * defaults are small), shader-f16 and timestamp-query when present, and turns uncaptured GPU errors into loud
 * failures that name the object's label. Not the place for buffers or pipelines (pool.ts, pipelines.ts).
 */
import { tmpdir } from "node:os";
import { UsageError } from "../errors.ts";
import { printError } from "../log.ts";
import { BufferPool } from "./pool.ts";
import { PipelineCache } from "./pipelines.ts";
import { TuningTable } from "./tuning.ts";

/** What the user asked for: the best adapter, a real GPU only, or the CPU fallback. */
export type DevicePreference = "auto" | "gpu" | "cpu";

/** A short description of the adapter, for logs, params and `storyteller gpu`. */
export interface AdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  /** True for software adapters such as Mesa lavapipe. */
  isFallback: boolean;
  features: string[];
}

/** The limits storyteller raises to the adapter's maxima. */
export const REQUESTED_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
  "maxBindGroups",
] as const;

/** An open device with its caches. */
export interface Gpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  summary: AdapterSummary;
  /** The limit values that were requested (the adapter's maxima). */
  limits: Record<(typeof REQUESTED_LIMITS)[number], number>;
  hasF16: boolean;
  hasTimestamps: boolean;
  pool: BufferPool;
  pipelines: PipelineCache;
  /** Tuned kernel variants of this adapter (in memory until src/kernels/tune.ts attaches the disk cache). */
  tuning: TuningTable;
  /** Throws if an uncaptured GPU error or a device loss was seen since the device opened. */
  check(): void;
  /**
   * Runs `fn` inside validation and out-of-memory error scopes; an error raised by it is reported with `label`
   * (wgpu's own messages do not always name the object) and thrown by the next check().
   */
  watch<T>(label: string, fn: () => T): T;
}

/** Raised for GPU errors the program cannot recover from (validation, out of memory, device lost). */
export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GpuError";
  }
}

/** Uncaptured GPU errors printed as they arrive; check() still reports the rest. */
const MAX_PRINTED_ERRORS = 5;

const NO_ADAPTER_HINT = "on Linux without a GPU, install Mesa's CPU Vulkan driver: " +
  "apt-get install -y mesa-vulkan-drivers; otherwise install your GPU's Vulkan, Metal or DX12 driver";

/** Reads the adapter's info into a plain summary. */
export function summarize(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const description = info.description || info.device || "unknown adapter";
  return {
    description,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    isFallback: Boolean(info.isFallbackAdapter ?? legacy) ||
      /llvmpipe|lavapipe|swiftshader|warp/i.test(description),
    features: [...adapter.features].sort(),
  };
}

/**
 * The WebGPU backends storyteller asks wgpu for when the user has not chosen (DENO_WEBGPU_BACKEND): the compute
 * backends only. By default wgpu also starts its OpenGL backend, which on Linux loads a second Mesa driver stack
 * (EGL → libgbm → swrast_dri.so, with its own llvmpipe on the same libLLVM) beside Vulkan's. Its library
 * destructors then race lavapipe's threads at process exit: "double free or corruption", exit 134, after every
 * test had passed (reproduced: 3 of 60 four-module `deno test --parallel` runs with the GL backend, 0 of 160
 * without; docs/benchmarks.md, Test suite). Compute never runs on wgpu's GL backend anyway.
 */
export const COMPUTE_BACKENDS = "vulkan,metal,dx12";

function prepareEnv(): void {
  try {
    // Read by wgpu when the first adapter is requested. Set once, before any GPU work: setenv is not safe while
    // other threads (a driver's) read the environment, so the test task sets it for its workers instead.
    if (!Deno.env.get("DENO_WEBGPU_BACKEND")) Deno.env.set("DENO_WEBGPU_BACKEND", COMPUTE_BACKENDS);
    // Mesa's Vulkan WSI prints an error when XDG_RUNTIME_DIR is unset although compute never needs it. The system
    // temp dir satisfies it without leaving a directory behind per process.
    if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", tmpdir());
  } catch { /* without env or write permission: wgpu's defaults, and the warning is only noise */ }
}

/** The default adapter's summary without opening a device, or null when WebGPU has no adapter here. */
export async function adapterSummary(): Promise<AdapterSummary | null> {
  if (typeof navigator === "undefined" || !navigator.gpu) return null;
  prepareEnv();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  return adapter ? summarize(adapter) : null;
}

/** Opens an adapter and device as storyteller needs them; fails with a fix when there is none. */
export async function openGpu(preference: DevicePreference = "auto"): Promise<Gpu> {
  if (typeof navigator === "undefined" || !navigator.gpu) {
    throw new UsageError("Cannot open a GPU: this Deno build has no WebGPU (navigator.gpu is missing)");
  }
  prepareEnv();
  const adapter = await navigator.gpu.requestAdapter({
    powerPreference: "high-performance",
    forceFallbackAdapter: preference === "cpu",
  });
  if (!adapter) {
    throw new UsageError("Cannot open a GPU: no WebGPU adapter was found", { hint: NO_ADAPTER_HINT });
  }
  const summary = summarize(adapter);
  if (preference === "gpu" && summary.isFallback) {
    throw new UsageError(`Cannot open a GPU: only the CPU adapter '${summary.description}' is available`, {
      hint: "set training.device to auto or cpu to train on the CPU adapter, or install a GPU driver",
    });
  }
  const limits = {} as Gpu["limits"];
  for (const name of REQUESTED_LIMITS) limits[name] = adapter.limits[name] as number;
  const features: GPUFeatureName[] = [];
  for (const f of ["shader-f16", "timestamp-query"] as GPUFeatureName[]) {
    if (adapter.features.has(f)) features.push(f);
  }
  const device = await adapter.requestDevice({
    label: "storyteller",
    requiredFeatures: features,
    requiredLimits: limits,
  });
  const errors: string[] = [];
  let printed = 0;
  const record = (message: string) => {
    errors.push(message);
    // One bad buffer invalidates everything bound to it: show the first few, not hundreds of echoes.
    if (printed < MAX_PRINTED_ERRORS) printError(`GPU error: ${message}`);
    else if (printed === MAX_PRINTED_ERRORS) printError("GPU error: further GPU errors are not shown");
    printed++;
  };
  device.addEventListener(
    "uncapturederror",
    (event) => record((event as GPUUncapturedErrorEvent).error.message),
  );
  let lost: string | undefined;
  device.lost.then((info) => {
    if (info.reason !== "destroyed") lost = info.message || "device lost";
  });
  const gpu: Gpu = {
    adapter,
    device,
    summary,
    limits,
    hasF16: features.includes("shader-f16"),
    hasTimestamps: features.includes("timestamp-query"),
    pool: new BufferPool(device),
    pipelines: new PipelineCache(device, (label, fn) => gpu.watch(label, fn)),
    tuning: new TuningTable(),
    watch<T>(label: string, fn: () => T): T {
      device.pushErrorScope("out-of-memory");
      device.pushErrorScope("validation");
      try {
        return fn();
      } finally {
        for (let i = 0; i < 2; i++) {
          device.popErrorScope().then((e) => {
            if (e) record(`in '${label}': ${e.message}`);
          });
        }
      }
    },
    check() {
      if (lost) throw new GpuError(`GPU device lost: ${lost}`);
      if (errors.length) {
        // wgpu often reports the cause first and the labelled object (encoder, pass, pipeline) after it.
        const seen = [...new Set(errors)];
        errors.length = 0;
        const shown = seen.slice(0, 3).join("; ");
        throw new GpuError(`GPU error: ${shown}${seen.length > 3 ? ` (and ${seen.length - 3} more)` : ""}`);
      }
    },
  };
  return gpu;
}

/**
 * Waits for the queue to go idle, then destroys the device. Work still running when a process or test worker tears
 * down races the driver's own teardown (Mesa's lavapipe runs it on its threads), so every owner of a device ends
 * with this rather than leaving the device to the garbage collector. A lost device is only destroyed.
 */
export async function closeGpu(gpu: Gpu): Promise<void> {
  try {
    await gpu.device.queue.onSubmittedWorkDone();
  } catch { /* lost or already destroyed: nothing is running */ }
  gpu.pool.destroy();
  gpu.device.destroy();
}

let shared: Promise<Gpu | null> | undefined;

/**
 * One shared device for tests and short-lived commands; resolves to null when no adapter exists at all
 * (callers then skip, printing why).
 */
export function sharedGpu(): Promise<Gpu | null> {
  shared ??= openGpu("auto").catch((err) => {
    if (err instanceof UsageError) return null;
    throw err;
  });
  return shared;
}
