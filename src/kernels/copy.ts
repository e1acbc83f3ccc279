/** An in-pass element copy (copyBufferToBuffer would split the compute pass). */
import code from "../../kernels/copy.wgsl" with { type: "text" };
import type { Binding, CommandBatch, Kernel } from "../gpu/mod.ts";
import { elementwiseGrid } from "./residual.ts";

export const COPY: Kernel = { name: "copy", code };

/** dst[0..n) = src[0..n) (f32 elements). */
export function copy(batch: CommandBatch, args: { src: Binding; dst: Binding; n: number }): void {
  batch.run(
    COPY,
    "main",
    {},
    [args.src, args.dst, batch.uniform(new Uint32Array([args.n, 0, 0, 0]))],
    elementwiseGrid(batch, args.n, 256),
  );
}
