// Row access for kernels/attention_cpu.wgsl when HS % 4 == 0: vec4 views of the bindings of attention_common.wgsl,
// one load or store per chunk. lavapipe performs every storage-buffer access lane by lane, a vec4 at about the cost
// of one float, so this halves the CPU kernels' time (tools/bench_attention_variants.ts). `base` is a row's first
// element, a multiple of 4 here; kernels/attention_cpu_scalar.wgsl serves the other head sizes.
@group(0) @binding(1) var<storage, read> q_v4: array<vec4<f32>>; // (B,T,NH,HS/4)
@group(0) @binding(2) var<storage, read> k_v4: array<vec4<f32>>; // (B,T,KVH,HS/4)
@group(0) @binding(3) var<storage, read> v_v4: array<vec4<f32>>; // (B,T,KVH,HS/4)
@group(0) @binding(4) var<storage, read_write> out_v4: array<vec4<f32>>; // (B,T,NH,HS/4) forward
@group(0) @binding(5) var<storage, read> dout_v4: array<vec4<f32>>; // (B,T,NH,HS/4) backward
@group(0) @binding(7) var<storage, read_write> dq_v4: array<vec4<f32>>; // (B,T,NH,HS/4) backward_q
@group(0) @binding(7) var<storage, read_write> dk_v4: array<vec4<f32>>; // (B,T,KVH,HS/4) backward_kv
@group(0) @binding(8) var<storage, read_write> dv_v4: array<vec4<f32>>; // (B,T,KVH,HS/4) backward_kv

fn load_q(base: u32, c: u32) -> vec4<f32> {
  return q_v4[base / 4u + c];
}

fn load_k(base: u32, c: u32) -> vec4<f32> {
  return k_v4[base / 4u + c];
}

fn load_v(base: u32, c: u32) -> vec4<f32> {
  return v_v4[base / 4u + c];
}

fn load_dout(base: u32, c: u32) -> vec4<f32> {
  return dout_v4[base / 4u + c];
}

fn store_out(base: u32, c: u32, x: vec4<f32>) {
  out_v4[base / 4u + c] = x;
}

fn store_dq(base: u32, c: u32, x: vec4<f32>) {
  dq_v4[base / 4u + c] = x;
}

fn store_dkv(base: u32, c: u32, x: vec4<f32>, y: vec4<f32>) {
  dk_v4[base / 4u + c] = x;
  dv_v4[base / 4u + c] = y;
}
