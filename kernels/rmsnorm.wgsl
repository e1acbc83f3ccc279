// RMSNorm, forward and backward: y = x · rsqrt(mean(x²) + eps) · w over the C channels of each of N rows (no mean
// subtraction, no bias: torch_reference's RMSNorm). The forward keeps rstd (N) for the backward. dweight needs a
// sum over rows without float atomics: backward writes one partial row of dw per workgroup into scratch, and
// dweight_reduce sums those partials in a fixed order, so a resumed run reproduces bit for bit.

override WG: u32 = 64; // threads per row, a power of two ≤ 256
override ACCUMULATE_DX: bool = false; // dx += instead of dx =
const MAXK: u32 = 16u; // channels per thread in the backward: C ≤ MAXK · WG

struct Params {
  N: u32,
  C: u32,
  eps: f32,
  rows: u32, // rows per workgroup in the backward
  groups: u32, // partial dw rows in scratch: ceil(N / rows)
  _a: u32,
  _b: u32,
  _c: u32,
}

// forward
@group(0) @binding(0) var<storage, read> x: array<f32>; // (N,C)
@group(0) @binding(1) var<storage, read> weight: array<f32>; // (C)
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (N,C)
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>; // (N)
@group(0) @binding(4) var<uniform> p: Params;

// backward (aliases the forward's bindings; no entry point uses both sets)
@group(0) @binding(0) var<storage, read> b_dout: array<f32>; // (N,C)
@group(0) @binding(1) var<storage, read> b_x: array<f32>; // (N,C)
@group(0) @binding(2) var<storage, read> b_weight: array<f32>; // (C)
@group(0) @binding(3) var<storage, read> b_rstd: array<f32>; // (N)
@group(0) @binding(4) var<storage, read_write> b_dx: array<f32>; // (N,C)
@group(0) @binding(5) var<storage, read_write> b_scratch: array<f32>; // (groups,C) partial dw
@group(0) @binding(6) var<uniform> bp: Params;

// dweight_reduce
@group(0) @binding(0) var<storage, read> r_scratch: array<f32>; // (groups,C)
@group(0) @binding(1) var<storage, read_write> r_dweight: array<f32>; // (C), accumulated
@group(0) @binding(2) var<uniform> rp: Params;

var<workgroup> red: array<f32, 256>;

// Sum of v over the WG threads of the workgroup, as a fixed tree (deterministic); call from uniform control flow.
fn workgroupSum(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

// Grid: (min(N, max)); workgroup x walks rows x, x + nwg.x, …
@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = lid.x;
  for (var row = wid.x; row < p.N; row += nwg.x) {
    let base = row * p.C;
    var ss = 0.0;
    for (var c = t; c < p.C; c += WG) {
      let v = x[base + c];
      ss = fma(v, v, ss);
    }
    let r = inverseSqrt(workgroupSum(ss, t) / f32(p.C) + p.eps);
    for (var c = t; c < p.C; c += WG) {
      out[base + c] = x[base + c] * r * weight[c];
    }
    if (t == 0u) { rstd[row] = r; }
  }
}

// Grid: (groups); workgroup g handles rows g·rows … and writes its partial dw into scratch row g.
// dx = r·w·dout − r³/C · x · Σ_c(dout·w·x); dw_partial = Σ_rows dout·x·r.
@compute @workgroup_size(WG)
fn backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = lid.x;
  let C = bp.C;
  var dw: array<f32, MAXK>;
  let first = wid.x * bp.rows;
  let last = min(first + bp.rows, bp.N);
  for (var row = first; row < last; row++) {
    let base = row * C;
    let r = b_rstd[row];
    var d = 0.0;
    for (var k = 0u; k < MAXK; k++) {
      let c = t + k * WG;
      if (c < C) { d += b_dout[base + c] * b_weight[c] * b_x[base + c]; }
    }
    let scale = r * r * r * workgroupSum(d, t) / f32(C);
    for (var k = 0u; k < MAXK; k++) {
      let c = t + k * WG;
      if (c < C) {
        let i = base + c;
        let g = b_dout[i];
        let xv = b_x[i];
        var v = r * b_weight[c] * g - scale * xv;
        if (ACCUMULATE_DX) { v += b_dx[i]; }
        b_dx[i] = v;
        dw[k] = fma(g * xv, r, dw[k]);
      }
    }
  }
  for (var k = 0u; k < MAXK; k++) {
    let c = t + k * WG;
    if (c < C) { b_scratch[wid.x * C + c] = dw[k]; }
  }
}

var<workgroup> red2: array<f32, 256>; // [lane * 16 + column]

// Grid: (ceil(C/16)); 16 columns × 16 lanes, lane l sums partial rows l, l + 16, … then a fixed tree over lanes.
@compute @workgroup_size(16, 16)
fn dweight_reduce(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = wid.x * 16u + lid.x;
  var s = 0.0;
  if (c < rp.C) {
    for (var g = lid.y; g < rp.groups; g += 16u) { s += r_scratch[g * rp.C + c]; }
  }
  red2[lid.y * 16u + lid.x] = s;
  workgroupBarrier();
  for (var h = 8u; h > 0u; h >>= 1u) {
    if (lid.y < h) { red2[lid.y * 16u + lid.x] += red2[(lid.y + h) * 16u + lid.x]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && c < rp.C) { r_dweight[c] += red2[lid.x]; }
}
