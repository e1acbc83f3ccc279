/**
 * Plain TypeScript SwiGLU gating, the oracle for kernels/swiglu.wgsl: h = silu(gate) · up elementwise, forward
 * and backward. The three projections around it are matmuls, not part of this op.
 */

function sigmoid(g: number): number {
  return 1 / (1 + Math.exp(-g));
}

/** h (N,I) = silu(gate) · up, silu(g) = g · sigmoid(g). */
export function swigluForward(gate: Float32Array, up: Float32Array): Float32Array {
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
  return out;
}

/** dgate = dout · up · σ(g)(1 + g(1 − σ(g))), dup = dout · silu(g); every array (N,I). */
export function swigluBackward(
  dout: Float32Array,
  gate: Float32Array,
  up: Float32Array,
): { dgate: Float32Array; dup: Float32Array } {
  const dgate = new Float32Array(gate.length);
  const dup = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i];
    const s = sigmoid(g);
    dgate[i] = dout[i] * up[i] * s * (1 + g * (1 - s));
    dup[i] = dout[i] * g * s;
  }
  return { dgate, dup };
}
