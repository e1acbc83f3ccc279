// The bfloat16 front of the dense matmul for AMP: A and B hold bf16 packed two per u32 (element 2i in the low half
// of word i, from kernels/cast.wgsl), unpacked in-kernel (bits << 16 is the f32); composed with
// kernels/matmul_dense.wgsl and kernels/matmul_tile.wgsl like matmul.wgsl. Needs no shader-f16, so it is also the
// fallback of float16 AMP.

@group(0) @binding(0) var<storage, read> A: array<u32>; // op(A) (M,K) from a_off, bf16 pairs
@group(0) @binding(1) var<storage, read> B: array<u32>; // op(B) (K,N) from b_off, bf16 pairs
@group(0) @binding(4) var<storage, read> amp: array<f32>; // main_unscale: the AMP state

// Element i of a bf16 pair array: the low half of word i/2 for even i, the high half for odd i.
fn read_a(i: u32) -> f32 { return bitcast<f32>(((A[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu) << 16u); }
fn read_b(i: u32) -> f32 { return bitcast<f32>(((B[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu) << 16u); }

// `main` times 1/S, S the loss scale in the AMP state: for gradients stored times S.
@compute @workgroup_size(WX, WY)
fn main_unscale(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  matmul_tile(lid, dense_tile(wid, amp[p.scale_slot]));
}
