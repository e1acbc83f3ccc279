/** An in-pass element copy (copyBufferToBuffer would split the compute pass). */
import code from "../../kernels/copy.wgsl" with { type: "text" };
import type { Binding, CommandBatch, Kernel } from "../gpu/mod.ts";

export const COPY: Kernel = { name: "copy", code };

/** Workgroups for `n` threads of 256, folded into two dimensions when past the per-dimension limit. */
export function grid256(n: number, maxPerDim = 65535): [number, number] {
  const groups = Math.ceil(n / 256);
  if (groups <= maxPerDim) return [groups, 1];
  const x = maxPerDim;
  return [x, Math.ceil(groups / x)];
}

/** dst[0..n) = src[0..n) (f32 elements). */
export function copy(batch: CommandBatch, args: { src: Binding; dst: Binding; n: number }): void {
  batch.run(
    COPY,
    "main",
    {},
    [args.src, args.dst, batch.uniform(new Uint32Array([args.n, 0, 0, 0]))],
    grid256(args.n),
  );
}
