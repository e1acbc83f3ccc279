/**
 * Plain TypeScript RoPE (rotate-half convention, as torch_reference.py), the oracle for kernels/rope.wgsl:
 * forward out = x·cos + cat(−x2, x1)·sin on x (B,T,H,HS), and its backward dx = Rᵀ·dout. Not in place.
 */

function rotate(
  x: Float32Array,
  B: number,
  T: number,
  H: number,
  HS: number,
  theta: number,
  pos0: number,
  sign: 1 | -1,
): Float32Array {
  const half = HS / 2;
  const out = new Float32Array(x.length);
  for (let i = 0; i < half; i++) {
    // f32 rounding of each step, as torch computes the table.
    const inv = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / HS))));
    for (let t = 0; t < T; t++) {
      const angle = Math.fround((pos0 + t) * inv);
      const c = Math.cos(angle);
      const s = sign * Math.sin(angle);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const o = ((b * T + t) * H + h) * HS + i;
          const x1 = x[o];
          const x2 = x[o + half];
          out[o] = x1 * c - x2 * s;
          out[o + half] = x2 * c + x1 * s;
        }
      }
    }
  }
  return out;
}

/** RoPE of x (B,T,H,HS) at positions pos0 + t → (B,T,H,HS). */
export function ropeForward(
  x: Float32Array,
  B: number,
  T: number,
  H: number,
  HS: number,
  theta: number,
  pos0 = 0,
): Float32Array {
  return rotate(x, B, T, H, HS, theta, pos0, 1);
}

/** Gradient of ropeForward: dx (B,T,H,HS) = Rᵀ·dout, the rotation by the opposite angle. */
export function ropeBackward(
  dout: Float32Array,
  B: number,
  T: number,
  H: number,
  HS: number,
  theta: number,
  pos0 = 0,
): Float32Array {
  return rotate(dout, B, T, H, HS, theta, pos0, -1);
}
