// The f32 matmul for CPU adapters with vec4 loads: front and core in one, composed after kernels/matmul_dense.wgsl
// (parameters, store_c, `main`). Lavapipe runs every storage load lane by lane, so the register core's 16 scalar
// loads per k cost more than its 64 FMAs; here a thread reads 16 vec4s per 4 k (four times fewer loads) and does
// the same 8×8 outer products in registers, no barriers. A and B are bound as array<vec4<f32>>, so the launcher
// picks this core only when every row it reads starts on a 4-float boundary (K, and M or N by the transposes, and
// every offset a multiple of 4); the rows and columns past the edge it reads clamped, and store_c drops them.

@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>; // op(A) (M,K), or (K,M) with TRANS_A
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>; // op(B) (K,N), or (N,K) with TRANS_B

// The prelude's scalar loads (unused by this core, but every function of a module must compile).
fn read_a(i: u32) -> f32 { return A[i >> 2u][i & 3u]; }
fn read_b(i: u32) -> f32 { return B[i >> 2u][i & 3u]; }

// Eight values of one operand at four consecutive k: lo_j holds elements 0..3 and hi_j 4..7 at k + j.
struct Quad {
  lo0: vec4<f32>, hi0: vec4<f32>,
  lo1: vec4<f32>, hi1: vec4<f32>,
  lo2: vec4<f32>, hi2: vec4<f32>,
  lo3: vec4<f32>, hi3: vec4<f32>,
}

// Eight vectors along k (one per row or column, each k..k+3) turned into the Quad's per-k form.
fn transpose8(v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>, v4: vec4<f32>, v5: vec4<f32>,
              v6: vec4<f32>, v7: vec4<f32>) -> Quad {
  return Quad(
    vec4<f32>(v0.x, v1.x, v2.x, v3.x), vec4<f32>(v4.x, v5.x, v6.x, v7.x),
    vec4<f32>(v0.y, v1.y, v2.y, v3.y), vec4<f32>(v4.y, v5.y, v6.y, v7.y),
    vec4<f32>(v0.z, v1.z, v2.z, v3.z), vec4<f32>(v4.z, v5.z, v6.z, v7.z),
    vec4<f32>(v0.w, v1.w, v2.w, v3.w), vec4<f32>(v4.w, v5.w, v6.w, v7.w),
  );
}

// Rows r..r+7 of op(A) at k..k+3 (rows past m_end read the last row: their results are never stored).
fn load_a4(t: Tile, r: u32, k: u32) -> Quad {
  if (TRANS_A) { // A (K,M): a row of A holds op(A)'s column k: two vec4s per k
    let i = (t.a0 + k * p.M + r) >> 2u;
    let s = p.M >> 2u;
    return Quad(A[i], A[i + 1u], A[i + s], A[i + s + 1u], A[i + 2u * s], A[i + 2u * s + 1u], A[i + 3u * s],
                A[i + 3u * s + 1u]);
  }
  let last = t.m_end - 1u;
  let k4 = k >> 2u;
  let s = p.K >> 2u;
  let a0 = t.a0 >> 2u;
  return transpose8(A[a0 + min(r, last) * s + k4], A[a0 + min(r + 1u, last) * s + k4],
                    A[a0 + min(r + 2u, last) * s + k4], A[a0 + min(r + 3u, last) * s + k4],
                    A[a0 + min(r + 4u, last) * s + k4], A[a0 + min(r + 5u, last) * s + k4],
                    A[a0 + min(r + 6u, last) * s + k4], A[a0 + min(r + 7u, last) * s + k4]);
}

// Columns c..c+7 of op(B) at k..k+3 (columns past N read the last column when B is (N,K); never stored).
fn load_b4(t: Tile, c: u32, k: u32) -> Quad {
  if (!TRANS_B) { // B (K,N): two vec4s per k
    let i = (t.b0 + k * p.N + c) >> 2u;
    let s = p.N >> 2u;
    return Quad(B[i], B[i + 1u], B[i + s], B[i + s + 1u], B[i + 2u * s], B[i + 2u * s + 1u], B[i + 3u * s],
                B[i + 3u * s + 1u]);
  }
  let last = p.N - 1u;
  let k4 = k >> 2u;
  let s = p.K >> 2u;
  let b0 = t.b0 >> 2u;
  return transpose8(B[b0 + min(c, last) * s + k4], B[b0 + min(c + 1u, last) * s + k4],
                    B[b0 + min(c + 2u, last) * s + k4], B[b0 + min(c + 3u, last) * s + k4],
                    B[b0 + min(c + 4u, last) * s + k4], B[b0 + min(c + 5u, last) * s + k4],
                    B[b0 + min(c + 6u, last) * s + k4], B[b0 + min(c + 7u, last) * s + k4]);
}

// The 8×8 accumulators of one thread: cij holds row i, columns 4j..4j+3.
struct Acc {
  c00: vec4<f32>, c01: vec4<f32>, c10: vec4<f32>, c11: vec4<f32>,
  c20: vec4<f32>, c21: vec4<f32>, c30: vec4<f32>, c31: vec4<f32>,
  c40: vec4<f32>, c41: vec4<f32>, c50: vec4<f32>, c51: vec4<f32>,
  c60: vec4<f32>, c61: vec4<f32>, c70: vec4<f32>, c71: vec4<f32>,
}

// acc += a ⊗ b at one k: a_lo/a_hi rows 0..3/4..7, b_lo/b_hi columns 0..3/4..7.
fn outer(acc: Acc, a_lo: vec4<f32>, a_hi: vec4<f32>, b_lo: vec4<f32>, b_hi: vec4<f32>) -> Acc {
  return Acc(
    fma(vec4<f32>(a_lo.x), b_lo, acc.c00), fma(vec4<f32>(a_lo.x), b_hi, acc.c01),
    fma(vec4<f32>(a_lo.y), b_lo, acc.c10), fma(vec4<f32>(a_lo.y), b_hi, acc.c11),
    fma(vec4<f32>(a_lo.z), b_lo, acc.c20), fma(vec4<f32>(a_lo.z), b_hi, acc.c21),
    fma(vec4<f32>(a_lo.w), b_lo, acc.c30), fma(vec4<f32>(a_lo.w), b_hi, acc.c31),
    fma(vec4<f32>(a_hi.x), b_lo, acc.c40), fma(vec4<f32>(a_hi.x), b_hi, acc.c41),
    fma(vec4<f32>(a_hi.y), b_lo, acc.c50), fma(vec4<f32>(a_hi.y), b_hi, acc.c51),
    fma(vec4<f32>(a_hi.z), b_lo, acc.c60), fma(vec4<f32>(a_hi.z), b_hi, acc.c61),
    fma(vec4<f32>(a_hi.w), b_lo, acc.c70), fma(vec4<f32>(a_hi.w), b_hi, acc.c71),
  );
}

fn matmul_tile(lid: vec3<u32>, t: Tile) {
  let r = t.row0 + lid.y * TM;
  let c = t.col0 + lid.x * TN;
  let z = vec4<f32>(0.0);
  var acc = Acc(z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z);
  // K chunks are multiples of 4 (the launcher's condition), so no k is masked.
  for (var k = t.k_begin; k < t.k_end; k += 4u) {
    let a = load_a4(t, r, k);
    let b = load_b4(t, c, k);
    acc = outer(acc, a.lo0, a.hi0, b.lo0, b.hi0);
    acc = outer(acc, a.lo1, a.hi1, b.lo1, b.hi1);
    acc = outer(acc, a.lo2, a.hi2, b.lo2, b.hi2);
    acc = outer(acc, a.lo3, a.hi3, b.lo3, b.hi3);
  }
  store_c(t, r, c, acc.c00); store_c(t, r, c + 4u, acc.c01);
  store_c(t, r + 1u, c, acc.c10); store_c(t, r + 1u, c + 4u, acc.c11);
  store_c(t, r + 2u, c, acc.c20); store_c(t, r + 2u, c + 4u, acc.c21);
  store_c(t, r + 3u, c, acc.c30); store_c(t, r + 3u, c + 4u, acc.c31);
  store_c(t, r + 4u, c, acc.c40); store_c(t, r + 4u, c + 4u, acc.c41);
  store_c(t, r + 5u, c, acc.c50); store_c(t, r + 5u, c + 4u, acc.c51);
  store_c(t, r + 6u, c, acc.c60); store_c(t, r + 6u, c + 4u, acc.c61);
  store_c(t, r + 7u, c, acc.c70); store_c(t, r + 7u, c + 4u, acc.c71);
}
