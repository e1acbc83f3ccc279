/** Launches kernels/matmul.wgsl: C (M,N) = alpha · op(A) · op(B) [+ C], optionally batched. */
import code from "../../kernels/matmul.wgsl" with { type: "text" };
import type { Binding, CommandBatch, Kernel } from "../gpu/mod.ts";

export const MATMUL: Kernel = { name: "matmul", code };

/** One matmul launch. Shapes: op(A) (M,K), op(B) (K,N), C (M,N). */
export interface MatmulArgs {
  a: Binding;
  b: Binding;
  c: Binding;
  M: number;
  K: number;
  N: number;
  /** A stored (K,M). */
  transA?: boolean;
  /** B stored (N,K). */
  transB?: boolean;
  /** C += result instead of C = result. */
  accumulate?: boolean;
  alpha?: number;
  /** Independent matmuls along workgroup z, `strides` elements apart in A, B and C. */
  count?: number;
  strides?: [number, number, number];
}

/** Threads per side of the workgroup: 16×16 (128×128 blocks) for large outputs, 8×8 (64×64) for thin ones. */
export function matmulTile(M: number, N: number): number {
  return M <= 64 || N <= 64 || M * N <= 128 * 128 * 16 ? 8 : 16;
}

/** Records one matmul dispatch into `batch`. */
export function matmul(batch: CommandBatch, args: MatmulArgs): void {
  const { M, K, N } = args;
  const w = matmulTile(M, N);
  const params = new Uint32Array(8);
  const [sa, sb, sc] = args.strides ?? [0, 0, 0];
  params.set([M, N, K, 0, sa, sb, sc, 0]);
  new Float32Array(params.buffer, 12, 1)[0] = args.alpha ?? 1;
  batch.run(
    MATMUL,
    "main",
    { TRANS_A: !!args.transA, TRANS_B: !!args.transB, ACCUMULATE: !!args.accumulate, WX: w, WY: w },
    [args.a, args.b, args.c, batch.uniform(params)],
    [Math.ceil(N / (w * 8)), Math.ceil(M / (w * 8)), args.count ?? 1],
  );
}
