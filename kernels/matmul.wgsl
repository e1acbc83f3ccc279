// Tiled matmul in the three forms the backward needs: C (M,N) = alpha · op(A) · op(B) [+ C], batched over
// workgroup_id.z. op(A) is A (M,K) or, with TRANS_A, A stored (K,M); op(B) is B (K,N) or, with TRANS_B, B stored
// (N,K) — so A·B, A·Bᵀ (x·Wᵀ, dx = dy·W) and Aᵀ·B (dW = dyᵀ·x) are one kernel. Each workgroup computes a
// (WY·TM)×(WX·TN) block through workgroup memory, each thread a TM×TN register tile; edges are masked, so any
// M, N, K works. Not fused with anything: epilogues live in their own kernels.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
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
  alpha: f32,
  stride_a: u32, // elements between consecutive batch items (workgroup_id.z)
  stride_b: u32,
  stride_c: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> As: array<f32, BK * BM>; // As[k * BM + m]
var<workgroup> Bs: array<f32, BK * BN>; // Bs[k * BN + n]

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tid = lid.y * WX + lid.x;
  let threads = WX * WY;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let a0 = wid.z * p.stride_a;
  let b0 = wid.z * p.stride_b;
  let c0 = wid.z * p.stride_c;
  var acc: array<f32, 64>; // TM * TN
  var a: array<f32, 8>;
  var b: array<f32, 8>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var i = tid; i < BM * BK; i += threads) {
      var m: u32;
      var k: u32;
      var idx: u32;
      if (TRANS_A) {
        k = i / BM; m = i % BM; idx = (k0 + k) * p.M + row0 + m;
      } else {
        m = i / BK; k = i % BK; idx = (row0 + m) * p.K + k0 + k;
      }
      var v = 0.0;
      if (row0 + m < p.M && k0 + k < p.K) { v = A[a0 + idx]; }
      As[k * BM + m] = v;
    }
    for (var i = tid; i < BN * BK; i += threads) {
      var n: u32;
      var k: u32;
      var idx: u32;
      if (TRANS_B) {
        n = i / BK; k = i % BK; idx = (col0 + n) * p.K + k0 + k;
      } else {
        k = i / BN; n = i % BN; idx = (k0 + k) * p.N + col0 + n;
      }
      var v = 0.0;
      if (col0 + n < p.N && k0 + k < p.K) { v = B[b0 + idx]; }
      Bs[k * BN + n] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      for (var i = 0u; i < TM; i++) { a[i] = As[k * BM + lid.y * TM + i]; }
      for (var j = 0u; j < TN; j++) { b[j] = Bs[k * BN + lid.x * TN + j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TM; i++) {
    let r = row0 + lid.y * TM + i;
    if (r >= p.M) { break; }
    for (var j = 0u; j < TN; j++) {
      let c = col0 + lid.x * TN + j;
      if (c >= p.N) { break; }
      let o = c0 + r * p.N + c;
      var v = p.alpha * acc[i * TN + j];
      if (ACCUMULATE) { v += C[o]; }
      C[o] = v;
    }
  }
}
