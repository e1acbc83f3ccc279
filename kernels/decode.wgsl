// KV-cache inference over a flat list of R rows, each row one token of one sequence at (slot, pos): RoPE at each
// row's own position, the append of k and v into the cache (S slots × TMAX positions), attention of each row over
// its slot's positions 0..pos (causal within a prefill because the whole prompt is appended first), and the gather
// of the rows that get sampled. Prefill (many rows per sequence) and batched decode (one row per sequence) are the
// same kernels. Twin: src/reference/decode.ts.

override WG: u32 = 64u;
override MAXT: u32 = 1024u; // scores kept in workgroup memory: TMAX ≤ MAXT
const MAX_HS: u32 = 128u;

struct Row {
  slot: u32,
  pos: u32,
}

// ---- rope_rows: x (R,H,HS) rotated in place at positions rows[r].pos (same arithmetic as rope.wgsl) ----
struct RopeParams {
  pairs: u32, // R·H·(HS/2)
  H: u32,
  HS: u32,
  _pad: u32,
  inv_freq: array<vec4<f32>, 16>,
}

@group(0) @binding(0) var<storage, read_write> rx: array<f32>; // (R,H,HS)
@group(0) @binding(1) var<storage, read> rrows: array<Row>; // (R)
@group(0) @binding(2) var<uniform> rp: RopeParams;

const TWO_PI_HI: f32 = 6.28125;
const TWO_PI_LO: f32 = 0.0019353071795864769;
const INV_TWO_PI: f32 = 0.15915494309189535;

@compute @workgroup_size(256)
fn rope_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * 256u + gid.x;
  if (idx >= rp.pairs) { return; }
  let half = rp.HS / 2u;
  let i = idx % half;
  let head_row = idx / half; // r·H + h
  let r = head_row / rp.H;
  let angle = f32(rrows[r].pos) * rp.inv_freq[i / 4u][i % 4u];
  let k = round(angle * INV_TWO_PI);
  let a = (angle - k * TWO_PI_HI) - k * TWO_PI_LO;
  let c = cos(a);
  let s = sin(a);
  let o = head_row * rp.HS + i;
  let x1 = rx[o];
  let x2 = rx[o + half];
  rx[o] = x1 * c - x2 * s;
  rx[o + half] = x2 * c + x1 * s;
}

// ---- kv_append: kc[slot, pos] = k[r], vc[slot, pos] = v[r] (pos clamped to TMAX − 1) ----
struct CacheParams {
  R: u32,
  W: u32, // KVH·HS
  TMAX: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> ak: array<f32>; // (R,KVH,HS)
@group(0) @binding(1) var<storage, read> av: array<f32>; // (R,KVH,HS)
@group(0) @binding(2) var<storage, read_write> akc: array<f32>; // (slots,TMAX,KVH,HS)
@group(0) @binding(3) var<storage, read_write> avc: array<f32>; // (slots,TMAX,KVH,HS)
@group(0) @binding(4) var<storage, read> arows: array<Row>; // (R)
@group(0) @binding(5) var<uniform> ap: CacheParams;

@compute @workgroup_size(256)
fn kv_append(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * 256u + gid.x;
  if (idx >= ap.R * ap.W) { return; }
  let r = idx / ap.W;
  let e = idx % ap.W;
  let row = arows[r];
  let o = (row.slot * ap.TMAX + min(row.pos, ap.TMAX - 1u)) * ap.W + e;
  akc[o] = ak[idx];
  avc[o] = av[idx];
}

// ---- attend: out[r,h] = softmax(q[r,h]·kc[slot, 0..pos, h/group]ᵀ·scale)·vc[slot, 0..pos, h/group] ----
struct AttendParams {
  NH: u32,
  KVH: u32,
  HS: u32,
  TMAX: u32,
  scale: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> tq: array<f32>; // (R,NH,HS)
@group(0) @binding(1) var<storage, read> tkc: array<f32>; // (slots,TMAX,KVH,HS)
@group(0) @binding(2) var<storage, read> tvc: array<f32>; // (slots,TMAX,KVH,HS)
@group(0) @binding(3) var<storage, read> trows: array<Row>; // (R)
@group(0) @binding(4) var<storage, read_write> tout: array<f32>; // (R,NH,HS)
@group(0) @binding(5) var<uniform> tp: AttendParams;

var<workgroup> scores: array<f32, MAXT>;
var<workgroup> qs: array<f32, MAX_HS>;
var<workgroup> red: array<f32, WG>;

fn reduce_max(tid: u32, v: f32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (tid < w) { red[tid] = max(red[tid], red[tid + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(tid: u32, v: f32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (tid < w) { red[tid] += red[tid + w]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn attend(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tid = lid.x;
  let h = wid.x;
  let r = wid.y;
  let HS = tp.HS;
  let W = tp.KVH * HS;
  let kh = h / (tp.NH / tp.KVH);
  let row = trows[r];
  let n = min(row.pos, tp.TMAX - 1u) + 1u; // keys 0..pos
  let qo = (r * tp.NH + h) * HS;
  for (var d = tid; d < HS; d += WG) { qs[d] = tq[qo + d]; }
  workgroupBarrier();
  let base = row.slot * tp.TMAX * W + kh * HS;
  var m = -3.4e38;
  for (var j = tid; j < n; j += WG) {
    let ko = base + j * W;
    var s = 0.0;
    for (var d = 0u; d < HS; d++) { s = fma(qs[d], tkc[ko + d], s); }
    s *= tp.scale;
    scores[j] = s;
    m = max(m, s);
  }
  m = reduce_max(tid, m);
  var l = 0.0;
  for (var j = tid; j < n; j += WG) {
    let e = exp(scores[j] - m);
    scores[j] = e;
    l += e;
  }
  l = reduce_sum(tid, l);
  let inv = 1.0 / l;
  for (var d = tid; d < HS; d += WG) {
    var acc = 0.0;
    for (var j = 0u; j < n; j++) { acc = fma(scores[j], tvc[base + j * W + d], acc); }
    tout[qo + d] = acc * inv;
  }
}

// ---- gather: dst[s] = src[pick[s]] (the rows whose logits are sampled) ----
struct GatherParams {
  S: u32,
  C: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> gsrc: array<f32>; // (R,C)
@group(0) @binding(1) var<storage, read> gpick: array<u32>; // (S)
@group(0) @binding(2) var<storage, read_write> gdst: array<f32>; // (S,C)
@group(0) @binding(3) var<uniform> gp: GatherParams;

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x;
  if (idx >= gp.S * gp.C) { return; }
  let s = idx / gp.C;
  gdst[idx] = gsrc[gpick[s] * gp.C + idx % gp.C];
}
