/**
 * Launches kernels/embedding.wgsl: the token-embedding gather and its deterministic scatter-add backward, plus
 * the host-side index (positions sorted by token id) the backward needs. Not the LM head: that is a matmul.
 */
import code from "../../kernels/embedding.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";
import { elementwiseGrid } from "./residual.ts";

export const EMBEDDING: Kernel = { name: "embedding", code };

const WG = 256;
const WG_BACKWARD = 64;

/** Embedding forward buffers. */
export interface EmbeddingForwardArgs {
  /** u32 (N) token ids, each < V */
  ids: Binding;
  /** (V,C) */
  weight: Binding;
  /** (N,C), overwritten */
  out: Binding;
  N: number;
  C: number;
}

/** `Params` of kernels/embedding.wgsl. */
export const EMBEDDING_PARAMS = defineStruct("Params", { N: "u32", C: "u32", unique: "u32", _pad: "u32" });

/** Records out[n] = weight[ids[n]] (vectorised when C % 4 == 0). */
export function embeddingForward(
  batch: CommandBatch,
  { ids, weight, out, N, C }: EmbeddingForwardArgs,
): void {
  const vec = C % 4 === 0;
  const cols = vec ? C / 4 : C;
  const params = batch.uniform(packStruct(EMBEDDING_PARAMS, { N, C: cols, unique: 0 }));
  batch.run(
    EMBEDDING,
    vec ? "forward4" : "forward",
    { WG },
    [ids, weight, out, params],
    elementwiseGrid(batch, N * cols, WG),
  );
}

/**
 * The backward's index of one micro-batch, built on the host from the ids it already has and uploaded once:
 * `starts` (unique+1) | `ids` (unique, ascending) | `positions` (N, grouped by id, ascending within an id), so
 * positions starts[u] … starts[u+1]−1 of the last section all hold token ids[u].
 */
export function embeddingBackwardIndex(ids: Uint32Array): { index: Uint32Array; unique: number } {
  const N = ids.length;
  const order = Uint32Array.from({ length: N }, (_, i) => i).sort((a, b) => ids[a] - ids[b] || a - b);
  let unique = 0;
  for (let k = 0; k < N; k++) if (k === 0 || ids[order[k]] !== ids[order[k - 1]]) unique++;
  const index = new Uint32Array(2 * unique + 1 + N);
  index.set(order, 2 * unique + 1);
  let u = 0;
  for (let k = 0; k < N; k++) {
    if (k === 0 || ids[order[k]] !== ids[order[k - 1]]) {
      index[u] = k;
      index[unique + 1 + u] = ids[order[k]];
      u++;
    }
  }
  index[unique] = N;
  return { index, unique };
}

/** Embedding backward buffers. */
export interface EmbeddingBackwardArgs {
  /** u32 (2·unique + 1 + N): the uploaded embeddingBackwardIndex() of this micro-batch's ids */
  index: Binding;
  unique: number;
  N: number;
  C: number;
  /** (N,C) */
  dout: Binding;
  /** (V,C), accumulated: dweight += scatter(dout) */
  dweight: Binding;
}

/** Records dweight[id] += Σ dout[n] over the positions n holding id, in a fixed order (no atomics). */
export function embeddingBackward(batch: CommandBatch, args: EmbeddingBackwardArgs): void {
  const { index, unique, N, C, dout, dweight } = args;
  const rows = Math.min(unique, batch.gpu.limits.maxComputeWorkgroupsPerDimension);
  batch.run(
    EMBEDDING,
    "backward",
    { WG: WG_BACKWARD },
    [index, dout, dweight, batch.uniform(packStruct(EMBEDDING_PARAMS, { N, C, unique }))],
    [Math.ceil(C / WG_BACKWARD), rows],
  );
}
