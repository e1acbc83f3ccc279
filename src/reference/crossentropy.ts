/**
 * Plain TypeScript softmax cross-entropy over the vocabulary, the oracle for kernels/crossentropy.wgsl: per-token
 * loss = logsumexp(logits) − logits[target] and dlogits = (softmax − onehot) · dscale. A target ≥ V is ignored
 * (loss 0, zero gradient), like torch's ignore_index. Not the reduction over tokens (lossSum on the GPU).
 */

/** losses (N) of logits (N,V) against targets (N). */
export function crossEntropyForward(
  logits: Float32Array,
  targets: Uint32Array,
  N: number,
  V: number,
): { losses: Float32Array } {
  const losses = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    if (targets[n] >= V) continue;
    const row = logits.subarray(n * V, n * V + V);
    losses[n] = logSumExp(row) - row[targets[n]];
  }
  return { losses };
}

/** dlogits (N,V) = (softmax(logits) − onehot(targets)) · dscale, i.e. the gradient of dscale · Σ losses. */
export function crossEntropyBackward(
  logits: Float32Array,
  targets: Uint32Array,
  N: number,
  V: number,
  dscale: number,
): Float32Array {
  const dlogits = new Float32Array(N * V);
  for (let n = 0; n < N; n++) {
    if (targets[n] >= V) continue;
    const row = logits.subarray(n * V, n * V + V);
    const lse = logSumExp(row);
    for (let v = 0; v < V; v++) {
      dlogits[n * V + v] = (Math.exp(row[v] - lse) - (v === targets[n] ? 1 : 0)) * dscale;
    }
  }
  return dlogits;
}

function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
