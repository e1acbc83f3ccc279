// Mixture-of-Experts expert compute: the grouped matmul whose workgroups find their expert's row range in a GPU
// offsets buffer (no host readback), in its row form (expert forward and input gradients) and its K-summed form
// (per-expert weight gradients, optionally split), and the reduce of the split partials. Routing, gather/combine
// and the router's losses are moe.wgsl. The prelude to kernels/matmul_tile.wgsl (composed in src/kernels/moe.ts).

override WG: u32 = 256;
override ACCUMULATE: bool = false;
override TRANS_B: bool = false;

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

var<workgroup> wjob: vec4<u32>; // expert, begin, end (rows, or K for ksum), valid

// The tile core's loads and store; ksum reads A (S,M) and B (S,N) along their rows (K = rows), so A lies (K,M).
fn a_stored_km() -> bool { return GROUP_K; }
fn b_stored_nk() -> bool { return TRANS_B && !GROUP_K; }

fn load_a(t: Tile, m: u32, k: u32) -> f32 {
  if (m >= t.m_end || k >= t.k_end) { return 0.0; }
  if (GROUP_K) { return mA[k * mmp.M + m]; }
  return mA[m * mmp.K + k];
}

fn load_b(t: Tile, k: u32, n: u32) -> f32 {
  if (n >= mmp.N || k >= t.k_end) { return 0.0; }
  if (GROUP_K) { return mB[k * mmp.N + n]; }
  if (TRANS_B) { return mB[t.b0 + n * mmp.K + k]; }
  return mB[t.b0 + k * mmp.N + n];
}

fn store_c(t: Tile, r: u32, c: u32, v: vec4<f32>) {
  if (r >= t.m_end) { return; }
  let o = t.c0 + r * mmp.N + c;
  for (var j = 0u; j < 4u; j++) {
    if (c + j >= mmp.N) { return; }
    var x = t.scale * v[j];
    if (ACCUMULATE) { x += mC[o + j]; }
    mC[o + j] = x;
  }
}

@compute @workgroup_size(WX, WY)
fn grouped(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  if (lid.x == 0u && lid.y == 0u) {
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
  // rows: expert job.x's rows job.y.. (up to job.z) against B_e; ksum: K = the rows job.y..job.z, all M rows.
  var t = Tile(job.y, wid.x * BN, 0u, mmp.K, job.z, 0u, job.x * mmp.stride_b, 0u, mmp.alpha);
  if (GROUP_K) {
    // z = e · splits + split; partials are laid out (splits, E, M, N), so split-major.
    let c0 = ((job.x % mmp.K) * mmp.E + job.x / mmp.K) * mmp.stride_c;
    t = Tile(wid.y * BM, wid.x * BN, job.y, job.z, mmp.M, 0u, 0u, c0, mmp.alpha);
  }
  matmul_tile(lid, t);
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
