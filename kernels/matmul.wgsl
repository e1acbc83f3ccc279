// The f32 matmul in the three forms the backward needs: C (M,N) = alpha · op(A) · op(B) [+ C], batched over
// workgroup_id.z. op(A) is A (M,K) or, with TRANS_A, A stored (K,M); op(B) is B (K,N) or, with TRANS_B, B stored
// (N,K) — so A·B, A·Bᵀ (x·Wᵀ, dx = dy·W) and Aᵀ·B (dW = dyᵀ·x) are one kernel. This file is the f32 front,
// composed after kernels/matmul_dense.wgsl (parameters, loads, epilogue, `main`) and kernels/matmul_tile.wgsl (the
// tile loop) in src/kernels/matmul.ts; it adds `reduce_split`, which sums split-K partials for all input types.

@group(0) @binding(0) var<storage, read> A: array<f32>; // op(A) (M,K); reduce_split: partials (splits,M,N)
@group(0) @binding(1) var<storage, read> B: array<f32>; // op(B) (K,N)

fn read_a(i: u32) -> f32 { return A[i]; }
fn read_b(i: u32) -> f32 { return B[i]; }

// ---- reduce_split: C (M,N) = alpha · Σ_s partials[s] [+ C]; partials bound at binding 0 ----
@compute @workgroup_size(256)
fn reduce_split(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = p.M * p.N;
  for (var i = gid.x; i < n; i += nwg.x * 256u) {
    var s = 0.0;
    for (var z = 0u; z < p.splits; z++) { s += A[z * n + i]; }
    var v = p.alpha * s;
    if (ACCUMULATE) { v += C[i]; }
    C[i] = v;
  }
}
