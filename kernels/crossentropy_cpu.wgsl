// Fused softmax cross-entropy for a CPU adapter (lavapipe), same contract as main in kernels/crossentropy.wgsl: one
// invocation per row, no workgroup memory and no barriers, because on a CPU a workgroup runs on one core with the
// invocations as SIMD lanes and every barrier costs a thread switch. Three passes over the row (it stays in cache):
// the max, then Σ exp(l − max) (storing each exp in place when WRITE_GRAD), then dlogits = (e/Σ − onehot) · dscale,
// so each logit costs one exp. main4 reads vec4s when V % 4 == 0. Not the loss sum (loss_sum in crossentropy.wgsl).

override WG: u32 = 8; // invocations per workgroup
override WRITE_GRAD: bool = true; // false: evaluation, logits are left untouched
const LOWEST: f32 = -3.0e38; // "no value yet": exp(LOWEST − m) is 0 for any real m

struct Params {
  N: u32,
  V: u32,
  dscale: f32,
  _a: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>; // (N,V) → dlogits (N,V)
@group(0) @binding(1) var<storage, read> targets: array<u32>; // (N)
@group(0) @binding(2) var<storage, read_write> losses: array<f32>; // (N)
@group(0) @binding(3) var<uniform> p: Params;

// main4 (aliases logits as vec4s)
@group(0) @binding(0) var<storage, read_write> logits4: array<vec4<f32>>; // (N,V/4) → dlogits

// Grid: (min(ceil(N/WG), max)); invocation i walks rows i, i + WG·nwg.x, …
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let V = p.V;
  for (var row = gid.x; row < p.N; row += nwg.x * WG) {
    let base = row * V;
    let tgt = targets[row];
    let valid = tgt < V;
    var tl = 0.0;
    if (valid) { tl = logits[base + tgt]; }
    var m = LOWEST;
    for (var v = 0u; v < V; v++) { m = max(m, logits[base + v]); }
    var s = 0.0;
    for (var v = 0u; v < V; v++) {
      let e = exp(logits[base + v] - m);
      s += e;
      if (WRITE_GRAD) { logits[base + v] = e; }
    }
    losses[row] = select(0.0, m + log(s) - tl, valid);
    if (WRITE_GRAD) {
      let scale = select(0.0, p.dscale, valid);
      let inv = 1.0 / s;
      for (var v = 0u; v < V; v++) {
        logits[base + v] = (logits[base + v] * inv - select(0.0, 1.0, v == tgt)) * scale;
      }
    }
  }
}

// main with V % 4 == 0.
@compute @workgroup_size(WG)
fn main4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let V4 = p.V / 4u;
  for (var row = gid.x; row < p.N; row += nwg.x * WG) {
    let base = row * V4;
    let tgt = targets[row];
    let valid = tgt < p.V;
    var tl = 0.0;
    if (valid) { tl = logits4[base + tgt / 4u][tgt % 4u]; }
    var m4 = vec4(LOWEST);
    for (var v = 0u; v < V4; v++) { m4 = max(m4, logits4[base + v]); }
    let m = max(max(m4.x, m4.y), max(m4.z, m4.w));
    var s4 = vec4(0.0);
    for (var v = 0u; v < V4; v++) {
      let e = exp(logits4[base + v] - m);
      s4 += e;
      if (WRITE_GRAD) { logits4[base + v] = e; }
    }
    let s = (s4.x + s4.y) + (s4.z + s4.w);
    losses[row] = select(0.0, m + log(s) - tl, valid);
    if (WRITE_GRAD) {
      let scale = select(0.0, p.dscale, valid);
      let inv = 1.0 / s;
      let lane = vec4(0u, 1u, 2u, 3u);
      for (var v = 0u; v < V4; v++) {
        let onehot = select(vec4(0.0), vec4(1.0), lane + 4u * v == vec4(tgt));
        logits4[base + v] = (logits4[base + v] * inv - onehot) * scale;
      }
    }
  }
}
