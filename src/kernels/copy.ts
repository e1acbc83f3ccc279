/** An in-pass element copy (copyBufferToBuffer would split the compute pass). */
import code from "../../kernels/copy.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";
import { elementwiseGrid } from "./residual.ts";

export const COPY: Kernel = { name: "copy", code };

/** `Params` of kernels/copy.wgsl (4 bytes; the uniform pads it to 16). */
export const COPY_PARAMS = defineStruct("Params", { n: "u32" });

/** dst[0..n) = src[0..n) (f32 elements). */
export function copy(batch: CommandBatch, args: { src: Binding; dst: Binding; n: number }): void {
  batch.run(
    COPY,
    "main",
    {},
    [args.src, args.dst, batch.uniform(packStruct(COPY_PARAMS, { n: args.n }))],
    elementwiseGrid(batch, args.n, 256),
  );
}
