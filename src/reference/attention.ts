/**
 * Plain TypeScript causal attention with grouped KV heads, the oracle for kernels/attention.wgsl:
 * out = softmax(q·kᵀ/√HS, causal)·v per head, head h reading kv head h / (NH/KVH), no dropout; the forward also
 * returns each row's log-sum-exp, which the backward uses to rebuild the probabilities. Materialises T×T per head.
 */

/** Forward: q (B,T,NH,HS), k and v (B,T,KVH,HS) → out (B,T,NH,HS) and lse (B,NH,T). */
export function attentionForward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  B: number,
  T: number,
  NH: number,
  KVH: number,
  HS: number,
): { out: Float32Array; lse: Float32Array } {
  const out = new Float32Array(B * T * NH * HS);
  const lse = new Float32Array(B * NH * T);
  const scale = 1 / Math.sqrt(HS);
  const group = NH / KVH;
  const s = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const qo = ((b * T + i) * NH + h) * HS;
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          const ko = ((b * T + j) * KVH + kh) * HS;
          let d = 0;
          for (let e = 0; e < HS; e++) d += q[qo + e] * k[ko + e];
          s[j] = d * scale;
          max = Math.max(max, s[j]);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += s[j] = Math.exp(s[j] - max);
        for (let e = 0; e < HS; e++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += s[j] * v[((b * T + j) * KVH + kh) * HS + e];
          out[qo + e] = acc / sum;
        }
        lse[(b * NH + h) * T + i] = max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}

/**
 * Backward: with P = exp(q·kᵀ·scale − lse) and D = rowsum(dout∘out), dv = Pᵀ·dout, dS = P∘(dout·vᵀ − D),
 * dq = scale·dS·k, dk = scale·dSᵀ·q; dk and dv sum over the query heads of each kv group.
 */
export function attentionBackward(
  dout: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  B: number,
  T: number,
  NH: number,
  KVH: number,
  HS: number,
): { dq: Float32Array; dk: Float32Array; dv: Float32Array } {
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const scale = 1 / Math.sqrt(HS);
  const group = NH / KVH;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const qo = ((b * T + i) * NH + h) * HS;
        let D = 0;
        for (let e = 0; e < HS; e++) D += dout[qo + e] * out[qo + e];
        const l = lse[(b * NH + h) * T + i];
        for (let j = 0; j <= i; j++) {
          const ko = ((b * T + j) * KVH + kh) * HS;
          let s = 0;
          let dp = 0;
          for (let e = 0; e < HS; e++) {
            s += q[qo + e] * k[ko + e];
            dp += dout[qo + e] * v[ko + e];
          }
          const p = Math.exp(s * scale - l);
          const ds = p * (dp - D) * scale;
          for (let e = 0; e < HS; e++) {
            dv[ko + e] += p * dout[qo + e];
            dk[ko + e] += ds * q[qo + e];
            dq[qo + e] += ds * k[ko + e];
          }
        }
      }
    }
  }
  return { dq: Float32Array.from(dq), dk: Float32Array.from(dk), dv: Float32Array.from(dv) };
}
