// f32 → packed low precision for AMP: two f16 or bf16 values per u32 (element 2i in the low half of word i),
// rounded to nearest even in integer arithmetic (WGSL leaves float narrowing's rounding and overflow open), so
// overflow gives ±inf and a NaN stays NaN — the loss scaler relies on seeing them. `narrow_scaled` multiplies by the
// loss scale read from the AMP state first (gradients stored in f16). A matmul_f16 module reads the words as f16.

override WG: u32 = 256;
override BF16: bool = false; // false: IEEE half; true: bfloat16 (the upper half of the f32)

struct Params {
  n: u32, // elements of src
  scale_slot: u32, // narrow_scaled: index of the loss scale in amp
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>; // (n)
@group(0) @binding(1) var<storage, read_write> dst: array<u32>; // (ceil(n/2)) packed pairs
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> amp: array<f32>; // narrow_scaled: the AMP state (loss scale at scale_slot)

fn to_f16(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  let sign = (u >> 16u) & 0x8000u;
  let exp = (u >> 23u) & 0xffu;
  let man = u & 0x7fffffu;
  if (exp == 0xffu) {
    if (man != 0u) { return sign | 0x7e00u; }
    return sign | 0x7c00u;
  }
  let e = i32(exp) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    let m = man | 0x800000u;
    let shift = u32(14 - e);
    var h = m >> shift;
    let rem = m & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u) == 1u)) { h += 1u; }
    return sign | h;
  }
  var h = (u32(e) << 10u) | (man >> 13u); // a rounding carry into the exponent is still right
  let rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h += 1u; }
  return sign | h;
}

fn to_bf16(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu) != 0u) { return (u >> 16u) | 0x40u; }
  return ((u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u) & 0xffffu;
}

fn narrow(x: f32) -> u32 {
  if (BF16) { return to_bf16(x); }
  return to_f16(x);
}

fn run(gid: u32, stride: u32, scale: f32) {
  let words = (p.n + 1u) / 2u;
  for (var w = gid; w < words; w += stride) {
    let i = 2u * w;
    let lo = narrow(src[i] * scale);
    var hi = 0u;
    if (i + 1u < p.n) { hi = narrow(src[i + 1u] * scale); }
    dst[w] = lo | (hi << 16u);
  }
}

@compute @workgroup_size(WG)
fn narrow_copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  run(gid.x, nwg.x * WG, 1.0);
}

@compute @workgroup_size(WG)
fn narrow_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  run(gid.x, nwg.x * WG, amp[p.scale_slot]);
}
