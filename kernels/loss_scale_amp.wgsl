// Dynamic loss scaling on the GPU, one thread per optimizer step: reads Σg² of the step's gradients and decides
// finite/non-finite from its bits (WGSL may assume floats are finite, so no isinf/isnan). Non-finite: flag the
// step skipped (AdamW reads the flag), count it, halve the scale when DYNAMIC. Finite: count a clean step and
// double the scale after `growth_interval` of them when DYNAMIC. The state is four f32 of the scalars buffer.

override DYNAMIC: bool = true; // float16: scale moves; bfloat16: S stays 1, non-finite steps are still skipped

struct Params {
  norm_slot: u32, // Σg² of this step
  state_slot: u32, // [scale, clean steps, skipped steps, overflow flag] from here
  growth_interval: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> s: array<f32>; // the engine's scalars
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(1)
fn update() {
  let o = p.state_slot;
  let bits = bitcast<u32>(s[p.norm_slot]);
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    if (DYNAMIC) { s[o] = s[o] * 0.5; }
    s[o + 1u] = 0.0;
    s[o + 2u] = s[o + 2u] + 1.0;
    s[o + 3u] = 1.0;
    return;
  }
  let clean = s[o + 1u] + 1.0;
  s[o + 3u] = 0.0;
  if (DYNAMIC && clean >= f32(p.growth_interval)) {
    s[o] = s[o] * 2.0;
    s[o + 1u] = 0.0;
  } else {
    s[o + 1u] = clean;
  }
}
