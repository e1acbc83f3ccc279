// Row access for kernels/attention_cpu.wgsl at any head size: the chunk loaders of attention_common.wgsl (zero past
// HS) and element-wise stores. `base` is a row's first element. kernels/attention_cpu_vec4.wgsl is the faster
// twin for HS % 4 == 0.
fn load_q(base: u32, c: u32) -> vec4<f32> {
  return q4(base, c);
}

fn load_k(base: u32, c: u32) -> vec4<f32> {
  return k4(base, c);
}

fn load_v(base: u32, c: u32) -> vec4<f32> {
  return v4(base, c);
}

fn load_dout(base: u32, c: u32) -> vec4<f32> {
  return dout4(base, c);
}

fn store_out(base: u32, c: u32, x: vec4<f32>) {
  for (var e = 0u; e < 4u && 4u * c + e < HS; e++) { out[base + 4u * c + e] = x[e]; }
}

fn store_dq(base: u32, c: u32, x: vec4<f32>) {
  for (var e = 0u; e < 4u && 4u * c + e < HS; e++) { dq[base + 4u * c + e] = x[e]; }
}

fn store_dkv(base: u32, c: u32, x: vec4<f32>, y: vec4<f32>) {
  for (var e = 0u; e < 4u && 4u * c + e < HS; e++) {
    dk[base + 4u * c + e] = x[e];
    dv[base + 4u * c + e] = y[e];
  }
}
