// SwiGLU gating, forward and backward: h = silu(gate) · up with silu(g) = g · sigmoid(g), elementwise over
// (N,I). Scalar entry points for any n, vec4 ones (suffix 4) when n % 4 == 0. The gate/up/down projections around
// it are matmuls, not part of this file.

override WG: u32 = 256;

struct Params {
  n: u32, // elements (vec4 entries: vec4 elements)
  _a: u32,
  _b: u32,
  _c: u32,
}

// forward: gate, up → out
@group(0) @binding(0) var<storage, read> gate: array<f32>; // (N,I)
@group(0) @binding(1) var<storage, read> up: array<f32>; // (N,I)
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (N,I)
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(0) var<storage, read> gate4: array<vec4<f32>>; // (N·I/4)
@group(0) @binding(1) var<storage, read> up4: array<vec4<f32>>; // (N·I/4)
@group(0) @binding(2) var<storage, read_write> out4: array<vec4<f32>>; // (N·I/4)

// backward: dout, gate, up → dgate, dup (these alias the forward's bindings; no entry point uses both sets)
@group(0) @binding(0) var<storage, read> b_dout: array<f32>; // (N,I)
@group(0) @binding(1) var<storage, read> b_gate: array<f32>; // (N,I)
@group(0) @binding(2) var<storage, read> b_up: array<f32>; // (N,I)
@group(0) @binding(3) var<storage, read_write> b_dgate: array<f32>; // (N,I)
@group(0) @binding(4) var<storage, read_write> b_dup: array<f32>; // (N,I)
@group(0) @binding(5) var<uniform> bp: Params;
@group(0) @binding(0) var<storage, read> b_dout4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b_gate4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b_up4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> b_dgate4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> b_dup4: array<vec4<f32>>;

fn index(lid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// 1 / (1 + e^-g): exp overflows to +inf for very negative g, which still gives the right limit 0.
fn sigmoid4(g: vec4<f32>) -> vec4<f32> {
  return 1.0 / (1.0 + exp(-g));
}

@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(lid, wid, nwg);
  if (i >= p.n) { return; }
  let g = gate[i];
  out[i] = g * sigmoid4(vec4<f32>(g)).x * up[i];
}

@compute @workgroup_size(WG)
fn forward4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(lid, wid, nwg);
  if (i >= p.n) { return; }
  let g = gate4[i];
  out4[i] = g * sigmoid4(g) * up4[i];
}

@compute @workgroup_size(WG)
fn backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(lid, wid, nwg);
  if (i >= bp.n) { return; }
  let g = b_gate[i];
  let s = sigmoid4(vec4<f32>(g)).x;
  let d = b_dout[i];
  b_dgate[i] = d * b_up[i] * s * (1.0 + g * (1.0 - s));
  b_dup[i] = d * g * s;
}

@compute @workgroup_size(WG)
fn backward4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(lid, wid, nwg);
  if (i >= bp.n) { return; }
  let g = b_gate4[i];
  let s = sigmoid4(g);
  let d = b_dout4[i];
  b_dgate4[i] = d * b_up4[i] * s * (1.0 + g * (1.0 - s));
  b_dup4[i] = d * g * s;
}
