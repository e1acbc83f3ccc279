// Mixture-of-Experts expert compute: the grouped matmul whose workgroups find their expert's row range in a GPU
// offsets buffer (no host readback), in its row form (expert forward and input gradients) and its K-summed form
// (per-expert weight gradients, optionally split), and the reduce of the split partials. Routing, gather/combine
// and the router's losses are moe.wgsl.

override WG: u32 = 256;
override ACCUMULATE: bool = false;
override TRANS_B: bool = false;
override WX: u32 = 16; // threads along N
override WY: u32 = 16; // threads along M
const TM: u32 = 8u;
const TN: u32 = 8u;
const BK: u32 = 8u;
override BM: u32 = WY * TM;
override BN: u32 = WX * TN;

struct Params {
  n: u32,
  C: u32,
  E: u32,
  extra: u32, // splits
  f0: f32, // alpha
  f1: f32,
  _a: u32,
  _b: u32,
}

fn flat(lid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// ---- grouped matmul over expert row ranges ----
// rows (!GROUP_K): C[r] (+)= alpha · A[r] · op(B_e) for every row r of expert e, A (S,K) row-major, B_e = B +
//   e·stride_b stored (N,K) with TRANS_B, else (K,N); C (S,N). Workgroup y enumerates (expert, row tile) pairs;
//   tiles past the last expert's exit at once, so the grid of ceil(S/BM) + E rows covers any routing.
// ksum (GROUP_K): C_e (M,N) (+)= alpha · Σ_{r of expert e} A[r]ᵀ · B[r], A (S,M), B (S,N), C_e = C + e·stride_c
//   (the weight gradients); workgroup z = expert · splits + split, each split a BK-aligned share of the expert's
//   rows (an empty share stores zeros). With splits > 1, C is a scratch (splits, E, M, N) of raw partial sums that
//   reduce_splits adds up into the gradient — so a small (M,N) still fills a large GPU.
// The tile loop follows matmul.wgsl: vec4 workgroup tiles, an 8×8 register tile in sixteen named vec4
// accumulators (an indexed function-scope array becomes slow local memory).
override GROUP_K: bool = false;

struct MParams {
  M: u32, // rows: S; ksum: output rows
  N: u32,
  K: u32, // rows: inner size; ksum: splits per expert
  E: u32,
  stride_b: u32,
  stride_c: u32,
  alpha: f32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> mA: array<f32>;
@group(0) @binding(1) var<storage, read> mB: array<f32>;
@group(0) @binding(2) var<storage, read_write> mC: array<f32>;
@group(0) @binding(3) var<storage, read> m_offsets: array<u32>; // (E+1)
@group(0) @binding(4) var<uniform> mmp: MParams;

var<workgroup> As: array<vec4<f32>, BK * BM / 4u>; // As[k * BM/4 + m/4]
var<workgroup> Bs: array<vec4<f32>, BK * BN / 4u>; // Bs[k * BN/4 + n/4]
var<workgroup> wjob: vec4<u32>; // expert, begin, end (rows, or K for ksum), valid

fn g_load_a(m: u32, m_end: u32, k: u32, k_end: u32) -> f32 {
  if (m >= m_end || k >= k_end) { return 0.0; }
  if (GROUP_K) { return mA[k * mmp.M + m]; }
  return mA[m * mmp.K + k];
}

fn g_load_b(b0: u32, k: u32, n: u32, k_end: u32) -> f32 {
  if (n >= mmp.N || k >= k_end) { return 0.0; }
  if (GROUP_K) { return mB[k * mmp.N + n]; }
  if (TRANS_B) { return mB[b0 + n * mmp.K + k]; }
  return mB[b0 + k * mmp.N + n];
}

fn g_store4(base: u32, r: u32, m_end: u32, c: u32, v: vec4<f32>) {
  if (r >= m_end) { return; }
  let o = base + r * mmp.N + c;
  for (var j = 0u; j < 4u; j++) {
    if (c + j >= mmp.N) { return; }
    var x = mmp.alpha * v[j];
    if (ACCUMULATE) { x += mC[o + j]; }
    mC[o + j] = x;
  }
}

@compute @workgroup_size(WX, WY)
fn grouped(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tid = lid.y * WX + lid.x;
  let threads = WX * WY;
  if (tid == 0u) {
    if (GROUP_K) {
      let e = wid.z / mmp.K;
      let split = wid.z % mmp.K;
      let lo = m_offsets[e];
      let hi = m_offsets[e + 1u];
      let chunk = ((hi - lo + mmp.K - 1u) / mmp.K + BK - 1u) / BK * BK;
      let begin = min(hi, lo + split * chunk);
      wjob = vec4<u32>(wid.z, begin, min(hi, begin + chunk), 1u);
    } else {
      var j = wid.y;
      var job = vec4<u32>(0u);
      for (var e = 0u; e < mmp.E; e++) {
        let lo = m_offsets[e];
        let hi = m_offsets[e + 1u];
        let tiles = (hi - lo + BM - 1u) / BM;
        if (j < tiles) {
          job = vec4<u32>(e, lo + j * BM, hi, 1u);
          break;
        }
        j -= tiles;
      }
      wjob = job;
    }
  }
  let job = workgroupUniformLoad(&wjob);
  if (job.w == 0u) { return; }
  var row0 = job.y;
  var m_end = job.z;
  var k_begin = 0u;
  var k_end = mmp.K;
  var b0 = job.x * mmp.stride_b;
  var c0 = 0u;
  if (GROUP_K) {
    row0 = wid.y * BM;
    m_end = mmp.M;
    k_begin = job.y;
    k_end = job.z;
    b0 = 0u;
    // z = e · splits + split; partials are laid out (splits, E, M, N), so split-major.
    c0 = ((job.x % mmp.K) * mmp.E + job.x / mmp.K) * mmp.stride_c;
  }
  let col0 = wid.x * BN;
  let bm4 = BM / 4u;
  let bn4 = BN / 4u;
  var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
  var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0);
  var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0);
  var c40 = vec4<f32>(0.0); var c41 = vec4<f32>(0.0);
  var c50 = vec4<f32>(0.0); var c51 = vec4<f32>(0.0);
  var c60 = vec4<f32>(0.0); var c61 = vec4<f32>(0.0);
  var c70 = vec4<f32>(0.0); var c71 = vec4<f32>(0.0);
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    for (var i = tid; i < BK * bm4; i += threads) {
      var k: u32;
      var m4: u32;
      if (GROUP_K) { k = i / bm4; m4 = i % bm4; } else { k = i % BK; m4 = i / BK; }
      let m = row0 + 4u * m4;
      let kk = k0 + k;
      As[k * bm4 + m4] = vec4<f32>(
        g_load_a(m, m_end, kk, k_end),
        g_load_a(m + 1u, m_end, kk, k_end),
        g_load_a(m + 2u, m_end, kk, k_end),
        g_load_a(m + 3u, m_end, kk, k_end),
      );
    }
    for (var i = tid; i < BK * bn4; i += threads) {
      var k: u32;
      var n4: u32;
      if (TRANS_B && !GROUP_K) { k = i % BK; n4 = i / BK; } else { k = i / bn4; n4 = i % bn4; }
      let n = col0 + 4u * n4;
      let kk = k0 + k;
      Bs[k * bn4 + n4] = vec4<f32>(
        g_load_b(b0, kk, n, k_end),
        g_load_b(b0, kk, n + 1u, k_end),
        g_load_b(b0, kk, n + 2u, k_end),
        g_load_b(b0, kk, n + 3u, k_end),
      );
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a_lo = As[k * bm4 + 2u * lid.y];
      let a_hi = As[k * bm4 + 2u * lid.y + 1u];
      let b_lo = Bs[k * bn4 + 2u * lid.x];
      let b_hi = Bs[k * bn4 + 2u * lid.x + 1u];
      c00 = fma(vec4<f32>(a_lo.x), b_lo, c00); c01 = fma(vec4<f32>(a_lo.x), b_hi, c01);
      c10 = fma(vec4<f32>(a_lo.y), b_lo, c10); c11 = fma(vec4<f32>(a_lo.y), b_hi, c11);
      c20 = fma(vec4<f32>(a_lo.z), b_lo, c20); c21 = fma(vec4<f32>(a_lo.z), b_hi, c21);
      c30 = fma(vec4<f32>(a_lo.w), b_lo, c30); c31 = fma(vec4<f32>(a_lo.w), b_hi, c31);
      c40 = fma(vec4<f32>(a_hi.x), b_lo, c40); c41 = fma(vec4<f32>(a_hi.x), b_hi, c41);
      c50 = fma(vec4<f32>(a_hi.y), b_lo, c50); c51 = fma(vec4<f32>(a_hi.y), b_hi, c51);
      c60 = fma(vec4<f32>(a_hi.z), b_lo, c60); c61 = fma(vec4<f32>(a_hi.z), b_hi, c61);
      c70 = fma(vec4<f32>(a_hi.w), b_lo, c70); c71 = fma(vec4<f32>(a_hi.w), b_hi, c71);
    }
    workgroupBarrier();
  }
  let r = row0 + lid.y * TM;
  let c = col0 + lid.x * TN;
  g_store4(c0, r, m_end, c, c00); g_store4(c0, r, m_end, c + 4u, c01);
  g_store4(c0, r + 1u, m_end, c, c10); g_store4(c0, r + 1u, m_end, c + 4u, c11);
  g_store4(c0, r + 2u, m_end, c, c20); g_store4(c0, r + 2u, m_end, c + 4u, c21);
  g_store4(c0, r + 3u, m_end, c, c30); g_store4(c0, r + 3u, m_end, c + 4u, c31);
  g_store4(c0, r + 4u, m_end, c, c40); g_store4(c0, r + 4u, m_end, c + 4u, c41);
  g_store4(c0, r + 5u, m_end, c, c50); g_store4(c0, r + 5u, m_end, c + 4u, c51);
  g_store4(c0, r + 6u, m_end, c, c60); g_store4(c0, r + 6u, m_end, c + 4u, c61);
  g_store4(c0, r + 7u, m_end, c, c70); g_store4(c0, r + 7u, m_end, c + 4u, c71);
}

// ---- reduce_splits: C (n) = alpha · Σ_s partials[s] (n) [+ C], n = E·M·N ----
@group(0) @binding(0) var<storage, read> rs_parts: array<f32>; // (splits, n)
@group(0) @binding(1) var<storage, read_write> rs_out: array<f32>; // (n)
@group(0) @binding(2) var<uniform> rsp: Params; // n, extra = splits, f0 = alpha

@compute @workgroup_size(WG)
fn reduce_splits(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(lid, wid, nwg);
  if (i >= rsp.n) { return; }
  var v = 0.0;
  for (var z = 0u; z < rsp.extra; z++) { v += rs_parts[z * rsp.n + i]; }
  v *= rsp.f0;
  if (ACCUMULATE) { v += rs_out[i]; }
  rs_out[i] = v;
}
