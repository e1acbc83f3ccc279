// The register-blocked tile loop every matmul kernel shares (matmul.wgsl and its f16/bf16 twins, moe_matmul.wgsl),
// composed after the kernel's prelude by src/kernels/_wgsl.ts — WGSL has no #include. A workgroup computes a
// (WY·TM)×(WX·TN) output block through vec4 workgroup tiles, each thread an 8×8 register tile in sixteen named vec4
// accumulators (naga turns an indexed function-scope array into slow local memory: 3× slower on an H200).
//
// The prelude defines, for its bindings and epilogue (module-scope names resolve in any order):
//   fn load_a(t: Tile, m: u32, k: u32) -> f32       element (m,k) of op(A), 0 at m ≥ t.m_end or k ≥ t.k_end
//   fn load_b(t: Tile, k: u32, n: u32) -> f32       element (k,n) of op(B), 0 past N or at k ≥ t.k_end
//   fn store_c(t: Tile, r: u32, c: u32, v: vec4<f32>)  the results of row r, columns c..c+3 (masks, epilogue)
//   fn a_stored_km() -> bool   A lies (K,M) in memory: tile loads walk m fastest, else k (coalesced either way)
//   fn b_stored_nk() -> bool   B lies (N,K): tile loads walk k fastest, else n
// and calls matmul_tile(lid, t) from its entry point in uniform control flow (it holds workgroup barriers). The
// block's sizes (WX, WY, TM, TN, BK, BM, BN) and `Tile` come from kernels/matmul_block.wgsl, composed before it.

var<workgroup> As: array<vec4<f32>, BK * BM / 4u>; // As[k * BM/4 + m/4]: rows m..m+3 of column k
var<workgroup> Bs: array<vec4<f32>, BK * BN / 4u>; // Bs[k * BN/4 + n/4]: columns n..n+3 of row k

fn matmul_tile(lid: vec3<u32>, t: Tile) {
  let tid = lid.y * WX + lid.x;
  let threads = WX * WY;
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
  for (var k0 = t.k_begin; k0 < t.k_end; k0 += BK) {
    // One vec4 (four rows of one k) per step: along m when A lies (K,M), along k otherwise (coalesced).
    for (var i = tid; i < BK * bm4; i += threads) {
      var k: u32;
      var m4: u32;
      if (a_stored_km()) { k = i / bm4; m4 = i % bm4; } else { k = i % BK; m4 = i / BK; }
      let m = t.row0 + 4u * m4;
      let kk = k0 + k;
      As[k * bm4 + m4] = vec4<f32>(
        load_a(t, m, kk),
        load_a(t, m + 1u, kk),
        load_a(t, m + 2u, kk),
        load_a(t, m + 3u, kk),
      );
    }
    for (var i = tid; i < BK * bn4; i += threads) {
      var k: u32;
      var n4: u32;
      if (b_stored_nk()) { k = i % BK; n4 = i / BK; } else { k = i / bn4; n4 = i % bn4; }
      let n = t.col0 + 4u * n4;
      let kk = k0 + k;
      Bs[k * bn4 + n4] = vec4<f32>(
        load_b(t, kk, n),
        load_b(t, kk, n + 1u),
        load_b(t, kk, n + 2u),
        load_b(t, kk, n + 3u),
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
  let r = t.row0 + lid.y * TM;
  let c = t.col0 + lid.x * TN;
  store_c(t, r, c, c00); store_c(t, r, c + 4u, c01);
  store_c(t, r + 1u, c, c10); store_c(t, r + 1u, c + 4u, c11);
  store_c(t, r + 2u, c, c20); store_c(t, r + 2u, c + 4u, c21);
  store_c(t, r + 3u, c, c30); store_c(t, r + 3u, c + 4u, c31);
  store_c(t, r + 4u, c, c40); store_c(t, r + 4u, c + 4u, c41);
  store_c(t, r + 5u, c, c50); store_c(t, r + 5u, c + 4u, c51);
  store_c(t, r + 6u, c, c60); store_c(t, r + 6u, c + 4u, c61);
  store_c(t, r + 7u, c, c70); store_c(t, r + 7u, c + 4u, c71);
}
