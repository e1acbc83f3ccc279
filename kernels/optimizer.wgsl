// The optimizer step on the GPU: a deterministic global gradient-norm reduction (Σ g² in a fixed order, two
// stages, no atomics) and AdamW with decoupled weight decay whose clip factor is computed here from that sum, so a
// step never reads back; under AMP it skips a step whose gradients overflowed. Also an in-place scale. Not the learning-rate schedule: that is a host-side uniform.
// Each entry point declares its own bindings numbered from 0 (layouts are per entry point: layout "auto").

override WG: u32 = 256; // threads per workgroup; sum_squares needs a power of two
override SQUARE: bool = true; // sum_squares: add x² (stage 1) or x (stage 2, summing partials)
override ACCUMULATE: bool = false; // sum_squares: out[slot] += total instead of out[slot] = total

// ---- sum_squares: out[out_slot + workgroup] (+)= Σ over this workgroup's grid-stride share of x (squared) ----

struct ReduceParams {
  n: u32, // elements of x to read
  out_slot: u32, // first output slot; workgroup w writes out_slot + w
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> rx: array<f32>; // (n)
@group(0) @binding(1) var<storage, read_write> rout: array<f32>; // (≥ out_slot + workgroups)
@group(0) @binding(2) var<uniform> rp: ReduceParams;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn sum_squares(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  // Four independent accumulators over a grid-stride loop: the order depends only on (n, grid), never on timing.
  let stride = nwg.x * WG;
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  var i = wid.x * WG + lid.x;
  for (; i + 3u * stride < rp.n; i += 4u * stride) {
    let a = rx[i];
    let b = rx[i + stride];
    let c = rx[i + 2u * stride];
    let d = rx[i + 3u * stride];
    if (SQUARE) {
      s0 = fma(a, a, s0);
      s1 = fma(b, b, s1);
      s2 = fma(c, c, s2);
      s3 = fma(d, d, s3);
    } else {
      s0 += a;
      s1 += b;
      s2 += c;
      s3 += d;
    }
  }
  for (; i < rp.n; i += stride) {
    let a = rx[i];
    if (SQUARE) { s0 = fma(a, a, s0); } else { s0 += a; }
  }
  partial[lid.x] = (s0 + s1) + (s2 + s3);
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid.x < half) { partial[lid.x] += partial[lid.x + half]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let o = rp.out_slot + wid.x;
    var total = partial[0];
    if (ACCUMULATE) { total += rout[o]; }
    rout[o] = total;
  }
}

// ---- adamw: one AdamW update of params[offset .. offset + count) with clipped gradients ----

struct Hyper {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  step_size: f32, // lr / (1 − beta1^step)
  bc2_sqrt: f32, // sqrt(1 − beta2^step)
  clip: f32, // max global norm; 0 = off
  _pad: f32,
}

struct Range {
  offset: u32, // first element
  count: u32, // elements to update
  norm_slot: u32, // index of Σg² in norm_sq
  weight_decay: f32,
  skip_slot: u32, // AMP: index of the overflow flag in norm_sq (skip the update while it is non-zero); NO_SKIP: none
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

const NO_SKIP: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read_write> params: array<f32>; // (P) flat parameters
@group(0) @binding(1) var<storage, read> grads: array<f32>; // (P) dparams
@group(0) @binding(2) var<storage, read_write> m: array<f32>; // (P) first moment
@group(0) @binding(3) var<storage, read_write> v: array<f32>; // (P) second moment
@group(0) @binding(4) var<storage, read> norm_sq: array<f32>; // (≥ norm_slot + 1) Σ dparams² [and AMP flag]
@group(0) @binding(5) var<uniform> hp: Hyper;
@group(0) @binding(6) var<uniform> range: Range;

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // A step whose gradients overflowed (kernels/loss_scale_amp.wgsl set the flag) leaves params and moments alone.
  if (range.skip_slot != NO_SKIP && norm_sq[range.skip_slot] != 0.0) { return; }
  // torch.nn.utils.clip_grad_norm_: coef = clip / (‖g‖ + 1e-6), clamped to 1.
  var coef = 1.0;
  if (hp.clip > 0.0) { coef = min(1.0, hp.clip / (sqrt(norm_sq[range.norm_slot]) + 1e-6)); }
  let decay = 1.0 - hp.lr * range.weight_decay;
  let stride = nwg.x * WG;
  for (var j = gid.x; j < range.count; j += stride) {
    let i = range.offset + j;
    let g = grads[i] * coef;
    // torch.optim.AdamW (single tensor): decoupled decay, then Adam with bias correction.
    let p = params[i] * decay;
    let mi = m[i] + (1.0 - hp.beta1) * (g - m[i]);
    let vi = v[i] * hp.beta2 + (1.0 - hp.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = p - hp.step_size * mi / (sqrt(vi) / hp.bc2_sqrt + hp.eps);
  }
}

// ---- scale: x[0 .. n) *= scale ----

struct ScaleParams {
  n: u32,
  scale: f32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> sx: array<f32>; // (n)
@group(0) @binding(1) var<uniform> sp: ScaleParams;

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < sp.n; i += stride) { sx[i] *= sp.scale; }
}
