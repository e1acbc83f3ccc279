// Attention prelude shared by both kernel families: src/kernels/attention.ts prepends this file to
// kernels/attention.wgsl (register-blocked, the fast path) and to kernels/attention_rows.wgsl (row kernels, the
// fallback). Composed rather than duplicated: the bindings, Params, the chunk loaders and backward_delta (run by
// both families) must stay identical. Shapes: q (B,T,NH,HS), k and v (B,T,KVH,HS), out (B,T,NH,HS), lse (B,NH,T).
override HS: u32 = 48u; // head size
override HS4: u32 = (HS + 3u) / 4u; // vec4 chunks per row
override RS: u32 = HS4 | 1u; // row stride in workgroup memory (odd: rows fall on different banks)
const MASKED: f32 = -1e30; // finite: WGSL gives no guarantees about infinities
// Per-tile accumulators are declared with an explicit initializer: naga zero-initialises a bare `var x: T;`
// once per invocation, not each time a loop body runs it.

struct Params {
  B: u32,
  T: u32,
  NH: u32,
  KVH: u32,
  group: u32, // NH / KVH
  scale: f32, // 1/√HS
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>; // (B,T,NH,HS)
@group(0) @binding(2) var<storage, read> k: array<f32>; // (B,T,KVH,HS)
@group(0) @binding(3) var<storage, read> v: array<f32>; // (B,T,KVH,HS)
// forward
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // (B,T,NH,HS)
@group(0) @binding(5) var<storage, read_write> lse_out: array<f32>; // (B,NH,T)
// backward_kv and backward_q
@group(0) @binding(4) var<storage, read> lse: array<f32>; // (B,NH,T)
@group(0) @binding(5) var<storage, read> dout: array<f32>; // (B,T,NH,HS)
@group(0) @binding(6) var<storage, read> delta: array<f32>; // (B,NH,T) rowsum(dout∘out)
@group(0) @binding(7) var<storage, read_write> dq: array<f32>; // (B,T,NH,HS) backward_q
@group(0) @binding(7) var<storage, read_write> dk: array<f32>; // (B,T,KVH,HS) backward_kv
@group(0) @binding(8) var<storage, read_write> dv: array<f32>; // (B,T,KVH,HS) backward_kv
// backward_delta
@group(0) @binding(1) var<storage, read> d_out: array<f32>; // (B,T,NH,HS) the forward's out
@group(0) @binding(2) var<storage, read> d_dout: array<f32>; // (B,T,NH,HS)
@group(0) @binding(3) var<storage, read_write> d_delta: array<f32>; // (B,NH,T)

// Chunk c (4 elements, zero past HS) of the head row starting at `base`.
fn q4(base: u32, c: u32) -> vec4<f32> {
  let d = 4u * c;
  if (d + 4u <= HS) { return vec4(q[base + d], q[base + d + 1u], q[base + d + 2u], q[base + d + 3u]); }
  var x = vec4<f32>(0.0);
  for (var e = 0u; d + e < HS; e++) { x[e] = q[base + d + e]; }
  return x;
}

fn k4(base: u32, c: u32) -> vec4<f32> {
  let d = 4u * c;
  if (d + 4u <= HS) { return vec4(k[base + d], k[base + d + 1u], k[base + d + 2u], k[base + d + 3u]); }
  var x = vec4<f32>(0.0);
  for (var e = 0u; d + e < HS; e++) { x[e] = k[base + d + e]; }
  return x;
}

fn v4(base: u32, c: u32) -> vec4<f32> {
  let d = 4u * c;
  if (d + 4u <= HS) { return vec4(v[base + d], v[base + d + 1u], v[base + d + 2u], v[base + d + 3u]); }
  var x = vec4<f32>(0.0);
  for (var e = 0u; d + e < HS; e++) { x[e] = v[base + d + e]; }
  return x;
}

fn dout4(base: u32, c: u32) -> vec4<f32> {
  let d = 4u * c;
  if (d + 4u <= HS) {
    return vec4(dout[base + d], dout[base + d + 1u], dout[base + d + 2u], dout[base + d + 3u]);
  }
  var x = vec4<f32>(0.0);
  for (var e = 0u; d + e < HS; e++) { x[e] = dout[base + d + e]; }
  return x;
}

// delta = rowsum(dout∘out) per (b, h, i), the first backward dispatch of either family.
@compute @workgroup_size(256)
fn backward_delta(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.y * nwg.x * 256u + gid.x; // (b·T + i)·NH + h
  if (row >= p.B * p.T * p.NH) { return; }
  let h = row % p.NH;
  let i = (row / p.NH) % p.T;
  let b = row / (p.NH * p.T);
  var s = 0.0;
  for (var e = 0u; e < HS; e++) { s = fma(d_dout[row * HS + e], d_out[row * HS + e], s); }
  d_delta[(b * p.NH + h) * p.T + i] = s;
}
