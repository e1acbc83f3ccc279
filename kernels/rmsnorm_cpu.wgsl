// RMSNorm for a CPU adapter (lavapipe), same contract as kernels/rmsnorm.wgsl: one invocation per row (forward)
// or per row group (backward), no workgroup memory and no barriers, because on a CPU a workgroup runs on one core
// with the invocations as SIMD lanes and every barrier costs a thread switch. The *4 entry points read vec4s when
// C % 4 == 0. dweight keeps the deterministic two stages: partial rows of dw per row group into scratch (same
// layout as the GPU variant), then a fixed-order sum per column. Not used on a real GPU, where a row is too little
// work for one thread.

override WG: u32 = 8; // invocations per workgroup
override ACCUMULATE_DX: bool = false; // dx += instead of dx =

struct Params {
  N: u32,
  C: u32,
  eps: f32,
  rows: u32, // rows per group in the backward
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

// forward4 (aliases the forward's bindings as vec4s)
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>; // (N,C/4)
@group(0) @binding(1) var<storage, read> weight4: array<vec4<f32>>; // (C/4)
@group(0) @binding(2) var<storage, read_write> out4: array<vec4<f32>>; // (N,C/4)

// backward (aliases the forward's bindings; no entry point uses both sets)
@group(0) @binding(0) var<storage, read> b_dout: array<f32>; // (N,C)
@group(0) @binding(1) var<storage, read> b_x: array<f32>; // (N,C)
@group(0) @binding(2) var<storage, read> b_weight: array<f32>; // (C)
@group(0) @binding(3) var<storage, read> b_rstd: array<f32>; // (N)
@group(0) @binding(4) var<storage, read_write> b_dx: array<f32>; // (N,C)
@group(0) @binding(5) var<storage, read_write> b_scratch: array<f32>; // (groups,C) partial dw
@group(0) @binding(6) var<uniform> bp: Params;

// backward4 (aliases the backward's bindings as vec4s)
@group(0) @binding(0) var<storage, read> b_dout4: array<vec4<f32>>; // (N,C/4)
@group(0) @binding(1) var<storage, read> b_x4: array<vec4<f32>>; // (N,C/4)
@group(0) @binding(2) var<storage, read> b_weight4: array<vec4<f32>>; // (C/4)
@group(0) @binding(4) var<storage, read_write> b_dx4: array<vec4<f32>>; // (N,C/4)
@group(0) @binding(5) var<storage, read_write> b_scratch4: array<vec4<f32>>; // (groups,C/4)

// dweight_reduce
@group(0) @binding(0) var<storage, read> r_scratch: array<f32>; // (groups,C)
@group(0) @binding(1) var<storage, read_write> r_dweight: array<f32>; // (C), accumulated
@group(0) @binding(2) var<uniform> rp: Params;

// Grid: (min(ceil(N/WG), max)); invocation i walks rows i, i + WG·nwg.x, …
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let C = p.C;
  for (var row = gid.x; row < p.N; row += nwg.x * WG) {
    let base = row * C;
    var ss = 0.0;
    for (var c = 0u; c < C; c++) {
      let v = x[base + c];
      ss = fma(v, v, ss);
    }
    let r = inverseSqrt(ss / f32(C) + p.eps);
    for (var c = 0u; c < C; c++) { out[base + c] = x[base + c] * r * weight[c]; }
    rstd[row] = r;
  }
}

// forward with C % 4 == 0.
@compute @workgroup_size(WG)
fn forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let C4 = p.C / 4u;
  for (var row = gid.x; row < p.N; row += nwg.x * WG) {
    let base = row * C4;
    var ss = vec4(0.0);
    for (var c = 0u; c < C4; c++) {
      let v = x4[base + c];
      ss = fma(v, v, ss);
    }
    let r = inverseSqrt((ss.x + ss.y + ss.z + ss.w) / f32(p.C) + p.eps);
    for (var c = 0u; c < C4; c++) { out4[base + c] = x4[base + c] * r * weight4[c]; }
    rstd[row] = r;
  }
}

// Grid: (ceil(groups/WG)); invocation g handles rows g·rows … and accumulates its partial dw in scratch row g.
// dx = r·w·dout − r³/C · x · Σ_c(dout·w·x); dw_partial = Σ_rows dout·x·r.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x;
  if (g >= bp.groups) { return; }
  let C = bp.C;
  let first = g * bp.rows;
  let last = min(first + bp.rows, bp.N);
  for (var row = first; row < last; row++) {
    let base = row * C;
    let r = b_rstd[row];
    var d = 0.0;
    for (var c = 0u; c < C; c++) { d += b_dout[base + c] * b_weight[c] * b_x[base + c]; }
    let scale = r * r * r * d / f32(C);
    let fresh = row == first;
    for (var c = 0u; c < C; c++) {
      let i = base + c;
      let dy = b_dout[i];
      let xv = b_x[i];
      var v = r * b_weight[c] * dy - scale * xv;
      if (ACCUMULATE_DX) { v += b_dx[i]; }
      b_dx[i] = v;
      let j = g * C + c;
      b_scratch[j] = fma(dy * xv, r, select(b_scratch[j], 0.0, fresh));
    }
  }
}

// backward with C % 4 == 0.
@compute @workgroup_size(WG)
fn backward4(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x;
  if (g >= bp.groups) { return; }
  let C4 = bp.C / 4u;
  let first = g * bp.rows;
  let last = min(first + bp.rows, bp.N);
  for (var row = first; row < last; row++) {
    let base = row * C4;
    let r = b_rstd[row];
    var d = vec4(0.0);
    for (var c = 0u; c < C4; c++) { d += b_dout4[base + c] * b_weight4[c] * b_x4[base + c]; }
    let scale = r * r * r * (d.x + d.y + d.z + d.w) / f32(bp.C);
    let fresh = row == first;
    for (var c = 0u; c < C4; c++) {
      let i = base + c;
      let dy = b_dout4[i];
      let xv = b_x4[i];
      var v = r * b_weight4[c] * dy - scale * xv;
      if (ACCUMULATE_DX) { v += b_dx4[i]; }
      b_dx4[i] = v;
      let j = g * C4 + c;
      b_scratch4[j] = fma(dy * xv, vec4(r), select(b_scratch4[j], vec4(0.0), fresh));
    }
  }
}

// Grid: (ceil(C/WG)); invocation c sums column c of the partial rows in order 0, 1, …, groups − 1.
@compute @workgroup_size(WG)
fn dweight_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= rp.C) { return; }
  var s = 0.0;
  for (var g = 0u; g < rp.groups; g++) { s += r_scratch[g * rp.C + c]; }
  r_dweight[c] += s;
}
