// Rotary position embedding, rotate-half convention (as torch_reference.py and HF Llama), applied IN PLACE to
// x (B,T,H,HS): for pair i < HS/2 of each head, x1 = x[i], x2 = x[i + HS/2], angle = (pos0 + t)·inv_freq[i] and
// x1' = x1·cos − x2·sin, x2' = x2·cos + x1·sin. With INVERSE the transpose Rᵀ is applied instead (the backward).
// inv_freq comes from the host, rounded as torch rounds it; cos and sin are taken after an exact range reduction.

override INVERSE: bool = false;

struct Params {
  pairs: u32, // B·T·H·(HS/2) rotations
  T: u32,
  H: u32,
  HS: u32,
  pos0: u32, // position of t = 0
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  inv_freq: array<vec4<f32>, 16>, // (HS/2) packed four per vec4; HS ≤ 128
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>; // (B,T,H,HS)
@group(0) @binding(1) var<uniform> p: Params;

const TWO_PI_HI: f32 = 6.28125; // 2π split so that k·TWO_PI_HI is exact for the k that positions reach
const TWO_PI_LO: f32 = 0.0019353071795864769;
const INV_TWO_PI: f32 = 0.15915494309189535;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * 256u + gid.x;
  if (idx >= p.pairs) { return; }
  let half = p.HS / 2u;
  let i = idx % half;
  let row = idx / half; // (b·T + t)·H + h
  let t = (row / p.H) % p.T;
  let angle = f32(p.pos0 + t) * p.inv_freq[i / 4u][i % 4u];
  let k = round(angle * INV_TWO_PI);
  let r = (angle - k * TWO_PI_HI) - k * TWO_PI_LO; // in [−π, π], where GPU cos/sin are accurate
  let c = cos(r);
  let s = sin(r);
  let o = row * p.HS + i;
  let x1 = x[o];
  let x2 = x[o + half];
  if (INVERSE) {
    x[o] = x1 * c + x2 * s;
    x[o + half] = x2 * c - x1 * s;
  } else {
    x[o] = x1 * c - x2 * s;
    x[o + half] = x2 * c + x1 * s;
  }
}
