// The barrier-free twin of kernels/matmul_tile.wgsl, for CPU adapters (Mesa's lavapipe runs a workgroup on one core
// as 8-wide SIMD, where every workgroup barrier and workgroup-memory access costs more than the arithmetic): the same
// `matmul_tile(lid, t)` contract and block shape, but each thread reads its 8 rows of op(A) and 8 columns of op(B)
// straight from storage for every k — no shared tiles, no barriers. On a GPU the shared-tile core wins; the tuner
// (src/kernels/tune.ts) times both on the adapter. Composed after the prelude and kernels/matmul_block.wgsl.

fn matmul_tile(lid: vec3<u32>, t: Tile) {
  let r = t.row0 + lid.y * TM;
  let c = t.col0 + lid.x * TN;
  var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
  var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0);
  var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0);
  var c40 = vec4<f32>(0.0); var c41 = vec4<f32>(0.0);
  var c50 = vec4<f32>(0.0); var c51 = vec4<f32>(0.0);
  var c60 = vec4<f32>(0.0); var c61 = vec4<f32>(0.0);
  var c70 = vec4<f32>(0.0); var c71 = vec4<f32>(0.0);
  // A thread wholly outside the output still runs the loop's bounds (no barriers here, so it could return; the
  // loads are masked either way and the stores drop it).
  for (var k = t.k_begin; k < t.k_end; k++) {
    let a_lo = vec4<f32>(load_a(t, r, k), load_a(t, r + 1u, k), load_a(t, r + 2u, k), load_a(t, r + 3u, k));
    let a_hi = vec4<f32>(load_a(t, r + 4u, k), load_a(t, r + 5u, k), load_a(t, r + 6u, k), load_a(t, r + 7u, k));
    let b_lo = vec4<f32>(load_b(t, k, c), load_b(t, k, c + 1u), load_b(t, k, c + 2u), load_b(t, k, c + 3u));
    let b_hi = vec4<f32>(load_b(t, k, c + 4u), load_b(t, k, c + 5u), load_b(t, k, c + 6u), load_b(t, k, c + 7u));
    c00 = fma(vec4<f32>(a_lo.x), b_lo, c00); c01 = fma(vec4<f32>(a_lo.x), b_hi, c01);
    c10 = fma(vec4<f32>(a_lo.y), b_lo, c10); c11 = fma(vec4<f32>(a_lo.y), b_hi, c11);
    c20 = fma(vec4<f32>(a_lo.z), b_lo, c20); c21 = fma(vec4<f32>(a_lo.z), b_hi, c21);
    c30 = fma(vec4<f32>(a_lo.w), b_lo, c30); c31 = fma(vec4<f32>(a_lo.w), b_hi, c31);
    c40 = fma(vec4<f32>(a_hi.x), b_lo, c40); c41 = fma(vec4<f32>(a_hi.x), b_hi, c41);
    c50 = fma(vec4<f32>(a_hi.y), b_lo, c50); c51 = fma(vec4<f32>(a_hi.y), b_hi, c51);
    c60 = fma(vec4<f32>(a_hi.z), b_lo, c60); c61 = fma(vec4<f32>(a_hi.z), b_hi, c61);
    c70 = fma(vec4<f32>(a_hi.w), b_lo, c70); c71 = fma(vec4<f32>(a_hi.w), b_hi, c71);
  }
  store_c(t, r, c, c00); store_c(t, r, c + 4u, c01);
  store_c(t, r + 1u, c, c10); store_c(t, r + 1u, c + 4u, c11);
  store_c(t, r + 2u, c, c20); store_c(t, r + 2u, c + 4u, c21);
  store_c(t, r + 3u, c, c30); store_c(t, r + 3u, c + 4u, c31);
  store_c(t, r + 4u, c, c40); store_c(t, r + 4u, c + 4u, c41);
  store_c(t, r + 5u, c, c50); store_c(t, r + 5u, c + 4u, c51);
  store_c(t, r + 6u, c, c60); store_c(t, r + 6u, c + 4u, c61);
  store_c(t, r + 7u, c, c70); store_c(t, r + 7u, c + 4u, c71);
}
