// The f16 front of the dense matmul for AMP: A and B hold f16 (from kernels/cast.wgsl), tiles, accumulation and C
// are f32; composed after kernels/matmul_dense.wgsl and kernels/matmul_tile.wgsl like matmul.wgsl (whose
// `reduce_split` sums its split-K partials). A separate module because `enable f16;` fails to compile where the
// adapter lacks shader-f16; kernels/matmul_bf16.wgsl is its bf16 sibling.
enable f16;

@group(0) @binding(0) var<storage, read> A: array<f16>; // op(A) (M,K) from a_off
@group(0) @binding(1) var<storage, read> B: array<f16>; // op(B) (K,N) from b_off
@group(0) @binding(4) var<storage, read> amp: array<f32>; // main_unscale: the AMP state

fn read_a(i: u32) -> f32 { return f32(A[i]); }
fn read_b(i: u32) -> f32 { return f32(B[i]); }

// `main` times 1/S, S the loss scale in the AMP state: for gradients stored times S.
@compute @workgroup_size(WX, WY)
fn main_unscale(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  matmul_tile(lid, dense_tile(wid, amp[p.scale_slot]));
}
