// The f16-input twin of kernels/matmul.wgsl for AMP: A and B hold f16 (from kernels/cast.wgsl), tiles and
// accumulation are f32, C is f32 — C (M,N) = alpha · op(A) · op(B) [+ C], batched over workgroup_id.z, same tiles,
// overrides and split-K as the f32 kernel (its `reduce_split` sums the partials). A and B start at element offsets
// a_off/b_off (a tensor of the packed weight copy sits at an offset no binding could take). `main_unscale`
// multiplies by 1/S, S the loss scale in the AMP state, for the gradients stored scaled. A separate module because
// `enable f16;` fails to compile where the adapter lacks shader-f16; kernels/matmul_bf16.wgsl is its bf16 sibling.
enable f16;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
override SPLIT_K: bool = false;
override WX: u32 = 16; // threads along N
override WY: u32 = 16; // threads along M
const TM: u32 = 8u; // rows per thread
const TN: u32 = 8u; // columns per thread
const BK: u32 = 8u; // K slice per iteration
override BM: u32 = WY * TM;
override BN: u32 = WX * TN;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  alpha: f32, // with SPLIT_K: unused (the reduce applies it)
  stride_a: u32, // elements between consecutive batch items (workgroup_id.z); 0 with SPLIT_K
  stride_b: u32,
  stride_c: u32, // with SPLIT_K: M·N, one partial (M,N) per split
  k_chunk: u32, // SPLIT_K: K elements per split, a multiple of BK
  splits: u32, // unused here (the f32 reduce_split reads its own)
  a_off: u32, // first element of op(A) in A
  b_off: u32, // first element of op(B) in B
  scale_slot: u32, // main_unscale: index of the loss scale S in amp
}

@group(0) @binding(0) var<storage, read> A: array<f16>; // op(A) (M,K) from a_off
@group(0) @binding(1) var<storage, read> B: array<f16>; // op(B) (K,N) from b_off

fn read_a(i: u32) -> f32 { return f32(A[i]); }
fn read_b(i: u32) -> f32 { return f32(B[i]); }
@group(0) @binding(2) var<storage, read_write> C: array<f32>; // (M,N); with SPLIT_K: partials (splits,M,N)
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> amp: array<f32>; // main_unscale: the AMP state

var<workgroup> As: array<vec4<f32>, BK * BM / 4u>; // As[k * BM/4 + m/4]: rows m..m+3 of column k
var<workgroup> Bs: array<vec4<f32>, BK * BN / 4u>; // Bs[k * BN/4 + n/4]: columns n..n+3 of row k

fn load_a(base: u32, m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= p.M || k >= k_end) { return 0.0; }
  if (TRANS_A) { return read_a(base + k * p.M + m); }
  return read_a(base + m * p.K + k);
}

fn load_b(base: u32, k: u32, n: u32, k_end: u32) -> f32 {
  if (n >= p.N || k >= k_end) { return 0.0; }
  if (TRANS_B) { return read_b(base + n * p.K + k); }
  return read_b(base + k * p.N + n);
}

// Writes columns c..c+3 of row r (those inside N) times `factor`, with ACCUMULATE (never for split partials).
fn store4(base: u32, r: u32, c: u32, v: vec4<f32>, factor: f32) {
  if (r >= p.M) { return; }
  let o = base + r * p.N + c;
  for (var j = 0u; j < 4u; j++) {
    if (c + j >= p.N) { return; }
    var x = factor * v[j];
    if (ACCUMULATE && !SPLIT_K) { x += C[o + j]; }
    C[o + j] = x;
  }
}

// The tile loop of kernels/matmul.wgsl; `factor` multiplies the stored result.
fn tile(lid: vec3<u32>, wid: vec3<u32>, factor: f32) {
  let tid = lid.y * WX + lid.x;
  let threads = WX * WY;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  var a0 = p.a_off + wid.z * p.stride_a;
  var b0 = p.b_off + wid.z * p.stride_b;
  let c0 = wid.z * p.stride_c;
  var k_begin = 0u;
  var k_end = p.K;
  if (SPLIT_K) {
    a0 = p.a_off;
    b0 = p.b_off;
    k_begin = wid.z * p.k_chunk;
    k_end = min(p.K, k_begin + p.k_chunk);
  }
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
    // One vec4 (four rows of one k) per step: along m when A is stored (K,M), along k otherwise (coalesced).
    for (var i = tid; i < BK * bm4; i += threads) {
      var k: u32;
      var m4: u32;
      if (TRANS_A) { k = i / bm4; m4 = i % bm4; } else { k = i % BK; m4 = i / BK; }
      let m = row0 + 4u * m4;
      let kk = k0 + k;
      As[k * bm4 + m4] = vec4<f32>(
        load_a(a0, m, kk, k_end),
        load_a(a0, m + 1u, kk, k_end),
        load_a(a0, m + 2u, kk, k_end),
        load_a(a0, m + 3u, kk, k_end),
      );
    }
    for (var i = tid; i < BK * bn4; i += threads) {
      var k: u32;
      var n4: u32;
      if (TRANS_B) { k = i % BK; n4 = i / BK; } else { k = i / bn4; n4 = i % bn4; }
      let n = col0 + 4u * n4;
      let kk = k0 + k;
      Bs[k * bn4 + n4] = vec4<f32>(
        load_b(b0, kk, n, k_end),
        load_b(b0, kk, n + 1u, k_end),
        load_b(b0, kk, n + 2u, k_end),
        load_b(b0, kk, n + 3u, k_end),
      );
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a_lo = As[k * bm4 + 2u * lid.y]; // rows 0..3 of this thread
      let a_hi = As[k * bm4 + 2u * lid.y + 1u]; // rows 4..7
      let b_lo = Bs[k * bn4 + 2u * lid.x]; // columns 0..3
      let b_hi = Bs[k * bn4 + 2u * lid.x + 1u]; // columns 4..7
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
  store4(c0, r, c, c00, factor); store4(c0, r, c + 4u, c01, factor);
  store4(c0, r + 1u, c, c10, factor); store4(c0, r + 1u, c + 4u, c11, factor);
  store4(c0, r + 2u, c, c20, factor); store4(c0, r + 2u, c + 4u, c21, factor);
  store4(c0, r + 3u, c, c30, factor); store4(c0, r + 3u, c + 4u, c31, factor);
  store4(c0, r + 4u, c, c40, factor); store4(c0, r + 4u, c + 4u, c41, factor);
  store4(c0, r + 5u, c, c50, factor); store4(c0, r + 5u, c + 4u, c51, factor);
  store4(c0, r + 6u, c, c60, factor); store4(c0, r + 6u, c + 4u, c61, factor);
  store4(c0, r + 7u, c, c70, factor); store4(c0, r + 7u, c + 4u, c71, factor);
}

fn alpha() -> f32 {
  if (SPLIT_K) { return 1.0; }
  return p.alpha;
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  tile(lid, wid, alpha());
}

@compute @workgroup_size(WX, WY)
fn main_unscale(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  tile(lid, wid, alpha() / amp[p.scale_slot]);
}
