// The dense matmul's prelude to kernels/matmul_tile.wgsl, shared by the f32, f16 and bf16 modules: C (M,N) =
// alpha · op(A) · op(B) [+ C], batched over workgroup_id.z or (SPLIT_K) split along K into raw partials (splits, M,
// N) that matmul.wgsl's `reduce_split` sums. Each module's front (composed last) holds its A/B bindings and
// read_a/read_b (element i as f32); this file the parameters, the loads in op() order, the epilogue and `main`.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
override SPLIT_K: bool = false;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  alpha: f32, // with SPLIT_K: unused (the reduce applies it)
  stride_a: u32, // elements between consecutive batch items (workgroup_id.z); 0 with SPLIT_K
  stride_b: u32,
  stride_c: u32, // with SPLIT_K: M·N, one partial (M,N) per split
  k_chunk: u32, // SPLIT_K: K elements per split, a multiple of BK
  splits: u32, // reduce_split: partials to sum
  a_off: u32, // first element of op(A) in A (a tensor inside a packed AMP copy); 0 for f32
  b_off: u32, // first element of op(B) in B
  scale_slot: u32, // main_unscale: index of the loss scale S in the AMP state
}

@group(0) @binding(2) var<storage, read_write> C: array<f32>; // (M,N); with SPLIT_K: partials (splits,M,N)
@group(0) @binding(3) var<uniform> p: Params;

fn a_stored_km() -> bool { return TRANS_A; }
fn b_stored_nk() -> bool { return TRANS_B; }

fn load_a(t: Tile, m: u32, k: u32) -> f32 {
  if (m >= t.m_end || k >= t.k_end) { return 0.0; }
  if (TRANS_A) { return read_a(t.a0 + k * p.M + m); }
  return read_a(t.a0 + m * p.K + k);
}

fn load_b(t: Tile, k: u32, n: u32) -> f32 {
  if (n >= p.N || k >= t.k_end) { return 0.0; }
  if (TRANS_B) { return read_b(t.b0 + n * p.K + k); }
  return read_b(t.b0 + k * p.N + n);
}

// Writes columns c..c+3 of row r (those inside N) times t.scale, with ACCUMULATE (never for split partials).
fn store_c(t: Tile, r: u32, c: u32, v: vec4<f32>) {
  if (r >= t.m_end) { return; }
  let o = t.c0 + r * p.N + c;
  for (var j = 0u; j < 4u; j++) {
    if (c + j >= p.N) { return; }
    var x = t.scale * v[j];
    if (ACCUMULATE && !SPLIT_K) { x += C[o + j]; }
    C[o + j] = x;
  }
}

// This workgroup's block: batch item wid.z, or with SPLIT_K the K chunk wid.z. The result is divided by `divisor`
// and, but for split partials (the reduce applies it), multiplied by alpha.
fn dense_tile(wid: vec3<u32>, divisor: f32) -> Tile {
  if (SPLIT_K) {
    let k_begin = wid.z * p.k_chunk;
    let k_end = min(p.K, k_begin + p.k_chunk);
    return Tile(wid.y * BM, wid.x * BN, k_begin, k_end, p.M, p.a_off, p.b_off, wid.z * p.stride_c, 1.0 / divisor);
  }
  let a0 = p.a_off + wid.z * p.stride_a;
  let b0 = p.b_off + wid.z * p.stride_b;
  return Tile(wid.y * BM, wid.x * BN, 0u, p.K, p.M, a0, b0, wid.z * p.stride_c, p.alpha / divisor);
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  matmul_tile(lid, dense_tile(wid, 1.0));
}
