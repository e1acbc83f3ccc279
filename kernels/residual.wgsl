// Elementwise helpers of the residual stream: x += y (the residual add, and gradient accumulation into the
// residual stream) and x = value (fill). Scalar and vec4 entry points; the vec4 ones need n % 4 == 0. Not fused
// with the ops around them.

override WG: u32 = 256;

struct Params {
  n: u32, // elements (vec4 entries: vec4 elements)
  value: f32,
  _a: u32,
  _b: u32,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>; // (n)
@group(0) @binding(1) var<storage, read> y: array<f32>; // (n)
@group(0) @binding(2) var<uniform> p: Params;

// The vec4 views and the fill's parameters alias the same bindings; no entry point uses two of them.
@group(0) @binding(0) var<storage, read_write> x4: array<vec4<f32>>; // (n/4)
@group(0) @binding(1) var<storage, read> y4: array<vec4<f32>>; // (n/4)
@group(0) @binding(1) var<uniform> fp: Params;

fn index(lid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

@compute @workgroup_size(WG)
fn add(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
       @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(lid, wid, nwg);
  if (i < p.n) { x[i] += y[i]; }
}

@compute @workgroup_size(WG)
fn add4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(lid, wid, nwg);
  if (i < p.n) { x4[i] += y4[i]; }
}

@compute @workgroup_size(WG)
fn fill(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(lid, wid, nwg);
  if (i < fp.n) { x[i] = fp.value; }
}
