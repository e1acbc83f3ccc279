/**
 * Launches fused causal attention with grouped KV heads (flash-style forward keeping the log-sum-exp, deterministic
 * backward): the register-blocked kernels of kernels/attention.wgsl, or the row kernels of attention_rows.wgsl where
 * those do not fit, or on a CPU adapter the barrier-free kernels of attention_cpu.wgsl; each is composed with the
 * prelude kernels/attention_common.wgsl. Tiles are sized here to fit the device's workgroup memory. Not RoPE (rope.ts)
 * and not the q/k/v/o projections (matmul.ts).
 */
import common from "../../kernels/attention_common.wgsl" with { type: "text" };
import blockedCode from "../../kernels/attention.wgsl" with { type: "text" };
import rowsCode from "../../kernels/attention_rows.wgsl" with { type: "text" };
import cpuCode from "../../kernels/attention_cpu.wgsl" with { type: "text" };
import cpuScalar from "../../kernels/attention_cpu_scalar.wgsl" with { type: "text" };
import cpuVec4 from "../../kernels/attention_cpu_vec4.wgsl" with { type: "text" };
import {
  type Binding,
  type CommandBatch,
  defineStruct,
  type Gpu,
  type Kernel,
  packStruct,
} from "../gpu/mod.ts";
import { compose } from "./_wgsl.ts";
import { elementwiseGrid } from "./residual.ts";

/** The register-blocked kernels (the fast path) and backward_delta. */
export const ATTENTION: Kernel = { name: "attention", code: compose(common, blockedCode) };
/** The row kernels (the fallback for head sizes the blocked ones cannot fit) and backward_delta. */
export const ATTENTION_ROWS: Kernel = { name: "attention_rows", code: compose(common, rowsCode) };
/** The CPU-adapter kernels (an invocation per row, no barriers, no workgroup memory) and backward_delta, any HS. */
export const ATTENTION_CPU: Kernel = { name: "attention_cpu", code: compose(common, cpuScalar, cpuCode) };
/** ATTENTION_CPU with vec4 loads and stores, for HS % 4 == 0 (twice as fast on lavapipe). */
export const ATTENTION_CPU4: Kernel = { name: "attention_cpu4", code: compose(common, cpuVec4, cpuCode) };

/**
 * The kernel variants: "blocked" (register-blocked tiles, the GPU fast path), "generic" (row tiles, the least
 * workgroup memory) and "cpu" (an invocation per row, for a CPU adapter). All run the same contract test.
 */
export const ATTENTION_VARIANTS = ["blocked", "generic", "cpu"] as const;
/** One of ATTENTION_VARIANTS. */
export type AttentionVariant = typeof ATTENTION_VARIANTS[number];

/** Invocations (rows) per workgroup of the CPU variant: one SIMD register's lanes on lavapipe. */
const CPU_WG = 8;

const MAX_HS = 128;
const TILES = [32, 16, 8];

/** Shapes shared by the forward and the backward. */
interface AttentionShape {
  /** Kernel family, one of ATTENTION_VARIANTS, or "auto" (default): "cpu" on a fallback (CPU) adapter, else
   * "blocked" when it fits the device's workgroup memory, else "generic". For tests, benchmarks and the tuner. */
  kernel?: "auto" | AttentionVariant;
  B: number;
  T: number;
  /** Query heads. */
  NH: number;
  /** Key/value heads; NH must be a multiple. */
  KVH: number;
  HS: number;
}

/** One attention forward. */
export interface AttentionForwardArgs extends AttentionShape {
  /** (B,T,NH,HS) */
  q: Binding;
  /** (B,T,KVH,HS) */
  k: Binding;
  /** (B,T,KVH,HS) */
  v: Binding;
  /** (B,T,NH,HS), written. */
  out: Binding;
  /** (B,NH,T), written: log Σ_j exp(q_i·k_j/√HS) of each row, for the backward. */
  lse: Binding;
}

/** One attention backward; dq, dk and dv are overwritten, not accumulated. */
export interface AttentionBackwardArgs extends AttentionShape {
  /** (B,T,NH,HS) */
  q: Binding;
  /** (B,T,KVH,HS) */
  k: Binding;
  /** (B,T,KVH,HS) */
  v: Binding;
  /** (B,T,NH,HS) the forward's output. */
  out: Binding;
  /** (B,NH,T) the forward's log-sum-exp. */
  lse: Binding;
  /** (B,T,NH,HS) */
  dout: Binding;
  /** (B,T,NH,HS), written. */
  dq: Binding;
  /** (B,T,KVH,HS), written: summed over the query heads of each kv group. */
  dk: Binding;
  /** (B,T,KVH,HS), written. */
  dv: Binding;
  /** At least attentionScratchFloats(B, T, NH) floats; holds delta = rowsum(dout∘out) (B,NH,T). */
  scratch: Binding;
}

type Entry = "forward" | "backward_kv" | "backward_q";

/** Workgroup-memory bytes of a blocked entry point (mirrors the arrays in attention.wgsl). */
function blockedBytes(entry: Entry, TX: number, TY: number, HS: number): number {
  const rs = Math.ceil(HS / 4) | 1;
  const [BR, BC] = [4 * TY, 4 * TX];
  const vec4s = entry === "forward"
    ? BR * rs + 2 * BC * rs + BC * TY + TX * TY
    : entry === "backward_kv"
    ? 2 * BR * rs + 2 * BC * rs + BC * TY + BC / 2
    : 2 * BR * rs + 2 * BC * rs + BC * TY;
  return vec4s * 16;
}

/**
 * Threads of a blocked entry point: TX columns (each thread owns two of the HS/4 output chunks, so TX ≥ HS/8) by
 * the largest TY that fits the device's workgroup memory; undefined when none fits (the generic kernels run then).
 */
export function attentionBlockedPlan(
  gpu: Gpu,
  entry: Entry,
  HS: number,
): { TX: number; TY: number } | undefined {
  const TX = Math.max(8, Math.ceil(Math.ceil(HS / 4) / 2));
  const limit = gpu.limits.maxComputeWorkgroupStorageSize;
  for (const TY of [16, 8, 4]) {
    if (TX * TY <= gpu.limits.maxComputeInvocationsPerWorkgroup && blockedBytes(entry, TX, TY, HS) <= limit) {
      return { TX, TY };
    }
  }
  return undefined;
}

/** Grid of a blocked entry point: heads and batch first, row tiles along z (see tile_of in attention.wgsl). */
function grid(tiles: number, heads: number, B: number): [number, number, number] {
  return [heads, B, tiles];
}

/**
 * The variant a pass runs: the caller's, else ("auto") the adapter's tuned one for this shape (src/kernels/tune.ts),
 * else "cpu" on a fallback (CPU) adapter, "blocked" where it fits the workgroup memory, "generic" otherwise — and
 * the shape is queued for the tuner with every variant this device can run.
 */
function resolveKernel(
  batch: CommandBatch,
  pass: "forward" | "backward",
  s: AttentionShape,
): AttentionVariant {
  if (s.kernel && s.kernel !== "auto") return s.kernel;
  const gpu = batch.gpu;
  const entries: Entry[] = pass === "forward" ? ["forward"] : ["backward_kv", "backward_q"];
  const fits = entries.every((e) => attentionBlockedPlan(gpu, e, s.HS));
  const first: AttentionVariant = gpu.summary.isFallback ? "cpu" : fits ? "blocked" : "generic";
  const candidates = [first, ...ATTENTION_VARIANTS.filter((v) => v !== first && (v !== "blocked" || fits))];
  const { B, T, NH, KVH, HS } = s;
  const shape = `${pass} B${B} T${T} NH${NH} KVH${KVH} HS${HS}`;
  return gpu.tuning.choice("attention", shape, candidates, { pass, B, T, NH, KVH, HS }) as AttentionVariant;
}

/** The CPU module of a resolved variant, or undefined for the GPU families; its vec4 twin when HS % 4 == 0. */
function cpuKernel(s: AttentionShape): Kernel | undefined {
  if (s.kernel !== "cpu") return undefined;
  return s.HS % 4 === 0 ? ATTENTION_CPU4 : ATTENTION_CPU;
}

function blocked(gpu: Gpu, entry: Entry, s: AttentionShape): { TX: number; TY: number } | undefined {
  if (s.kernel === "generic") return undefined;
  const plan = attentionBlockedPlan(gpu, entry, s.HS);
  if (!plan && s.kernel === "blocked") {
    throw new Error(
      `Cannot run blocked attention ${entry}: head size ${s.HS} does not fit the workgroup memory`,
    );
  }
  return plan;
}

/** Workgroup-memory bytes of a generic entry point for a tile size (mirrors the arrays in attention_rows.wgsl). */
function workgroupBytes(entry: Entry, tile: number, HS: number): number {
  const hs4 = Math.ceil(HS / 4);
  const rs = hs4 | 1;
  const rows = tile * rs * 4; // floats of one (TILE, HS4) vec4 array
  const scores = tile * (tile + 1);
  const floats = entry === "forward"
    ? 2 * rows + scores
    : entry === "backward_kv"
    ? 4 * rows + 2 * scores
    : 4 * rows + scores;
  return floats * 4;
}

/** Tile and threads-per-row of one entry point: the largest tile that fits the device's workgroup memory. */
export function attentionPlan(gpu: Gpu, entry: Entry, HS: number): { TILE: number; TPR: number } {
  const TPR = Math.ceil(HS / 4) <= 16 ? 4 : 8;
  const limit = gpu.limits.maxComputeWorkgroupStorageSize;
  for (const TILE of TILES) {
    if (TILE >= TPR && workgroupBytes(entry, TILE, HS) <= limit) return { TILE, TPR };
  }
  throw new Error(
    `Cannot run attention ${entry}: head size ${HS} needs ${
      workgroupBytes(entry, TILES.at(-1)!, HS)
    } bytes of workgroup memory, the device allows ${limit}`,
  );
}

function validate(action: string, s: AttentionShape): void {
  const { B, T, NH, KVH, HS } = s;
  for (const [name, n] of Object.entries({ B, T, NH, KVH, HS })) {
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`Cannot ${action}: ${name} is ${n}, not a positive integer`);
    }
  }
  if (NH % KVH !== 0) throw new Error(`Cannot ${action}: NH=${NH} is not a multiple of KVH=${KVH}`);
  if (HS > MAX_HS) throw new Error(`Cannot ${action}: head size ${HS} exceeds ${MAX_HS}`);
}

/** `Params` of kernels/attention_common.wgsl (every attention module). */
export const ATTENTION_PARAMS = defineStruct("Params", {
  B: "u32",
  T: "u32",
  NH: "u32",
  KVH: "u32",
  group: "u32",
  scale: "f32",
  _pad0: "u32",
  _pad1: "u32",
});

function params(batch: CommandBatch, s: AttentionShape): Binding {
  const { B, T, NH, KVH } = s;
  return batch.uniform(
    packStruct(ATTENTION_PARAMS, { B, T, NH, KVH, group: NH / KVH, scale: 1 / Math.sqrt(s.HS) }),
  );
}

/** Records the fused causal attention forward: out (B,T,NH,HS) and lse (B,NH,T). One dispatch. */
export function attentionForward(batch: CommandBatch, given: AttentionForwardArgs): void {
  validate("run attention forward", given);
  const args = { ...given, kernel: resolveKernel(batch, "forward", given) };
  const { B, T, NH, HS } = args;
  const cpu = cpuKernel(args);
  if (cpu) {
    batch.run(
      cpu,
      "forward_cpu",
      { WG: CPU_WG, HS },
      [params(batch, args), args.q, args.k, args.v, args.out, args.lse],
      [Math.ceil(T / CPU_WG), NH, B],
    );
    return;
  }
  const fast = blocked(batch.gpu, "forward", args);
  if (fast) {
    batch.run(
      ATTENTION,
      "forward_blocked",
      { ...fast, HS },
      [params(batch, args), args.q, args.k, args.v, args.out, args.lse],
      grid(Math.ceil(T / (4 * fast.TY)), NH, B),
    );
    return;
  }
  const plan = attentionPlan(batch.gpu, "forward", HS);
  batch.run(
    ATTENTION_ROWS,
    "forward",
    { ...plan, HS },
    [params(batch, args), args.q, args.k, args.v, args.out, args.lse],
    [Math.ceil(T / plan.TILE), NH, B],
  );
}

/** Scratch floats attentionBackward needs: delta = rowsum(dout∘out), (B,NH,T). */
export function attentionScratchFloats(B: number, T: number, NH: number): number {
  return B * NH * T;
}

/**
 * Records the attention backward: delta = rowsum(dout∘out) into scratch, then dk/dv (parallel over key tiles, each
 * summing over the query heads of its kv group) and dq (parallel over query tiles). Three dispatches, no atomics.
 */
export function attentionBackward(batch: CommandBatch, given: AttentionBackwardArgs): void {
  validate("run attention backward", given);
  const args = { ...given, kernel: resolveKernel(batch, "backward", given) };
  const { B, T, NH, KVH, HS } = args;
  const u = params(batch, args);
  const cpu = cpuKernel(args);
  if (cpu) {
    const grid = elementwiseGrid(batch, B * T * NH, 256);
    batch.run(cpu, "backward_delta", { HS }, [u, args.out, args.dout, args.scratch], grid);
    batch.run(
      cpu,
      "backward_kv_cpu",
      { WG: CPU_WG, HS },
      [u, args.q, args.k, args.v, args.lse, args.dout, args.scratch, args.dk, args.dv],
      [Math.ceil(T / CPU_WG), KVH, B],
    );
    batch.run(
      cpu,
      "backward_q_cpu",
      { WG: CPU_WG, HS },
      [u, args.q, args.k, args.v, args.lse, args.dout, args.scratch, args.dq],
      [Math.ceil(T / CPU_WG), NH, B],
    );
    return;
  }
  const fastKv = blocked(batch.gpu, "backward_kv", args);
  const fastQ = blocked(batch.gpu, "backward_q", args);
  // backward_delta lives in the prelude: run it from the module the other two dispatches use.
  const family = fastKv && fastQ ? ATTENTION : ATTENTION_ROWS;
  batch.run(
    family,
    "backward_delta",
    { HS },
    [u, args.out, args.dout, args.scratch],
    elementwiseGrid(batch, B * T * NH, 256),
  );
  if (fastKv && fastQ) {
    batch.run(
      ATTENTION,
      "backward_kv_blocked",
      { ...fastKv, HS },
      [u, args.q, args.k, args.v, args.lse, args.dout, args.scratch, args.dk, args.dv],
      grid(Math.ceil(T / (4 * fastKv.TY)), KVH, B),
    );
    batch.run(
      ATTENTION,
      "backward_q_blocked",
      { ...fastQ, HS },
      [u, args.q, args.k, args.v, args.lse, args.dout, args.scratch, args.dq],
      grid(Math.ceil(T / (4 * fastQ.TY)), NH, B),
    );
    return;
  }
  const kv = attentionPlan(batch.gpu, "backward_kv", HS);
  batch.run(
    ATTENTION_ROWS,
    "backward_kv",
    { ...kv, HS },
    [u, args.q, args.k, args.v, args.lse, args.dout, args.scratch, args.dk, args.dv],
    [Math.ceil(T / kv.TILE), KVH, B],
  );
  const dq = attentionPlan(batch.gpu, "backward_q", HS);
  batch.run(
    ATTENTION_ROWS,
    "backward_q",
    { ...dq, HS },
    [u, args.q, args.k, args.v, args.lse, args.dout, args.scratch, args.dq],
    [Math.ceil(T / dq.TILE), NH, B],
  );
}
