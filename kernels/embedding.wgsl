// Token embedding, forward and backward. Forward gathers rows of the table: out (N,C) = weight (V,C)[ids]. The
// backward scatter-adds dout rows into dweight without atomics: the host sorts the positions by token id
// (embeddingBackwardIndex), so one thread owns each (unique id, channel) and sums that id's positions in a fixed
// order — deterministic. Not the LM head (a matmul) and no positional embedding (RoPE).

override WG: u32 = 256;

struct Params {
  N: u32,
  C: u32, // channels (forward4: vec4 columns, C/4)
  unique: u32, // distinct ids in the index (backward)
  _pad: u32,
}

// forward
@group(0) @binding(0) var<storage, read> ids: array<u32>; // (N)
@group(0) @binding(1) var<storage, read> weight: array<f32>; // (V,C)
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // (N,C)
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> weight4: array<vec4<f32>>; // (V,C/4)
@group(0) @binding(2) var<storage, read_write> out4: array<vec4<f32>>; // (N,C/4)

// backward (aliases the forward's bindings; no entry point uses both sets)
// index: starts (unique+1) | ids (unique) | positions sorted by id (N)
@group(0) @binding(0) var<storage, read> index: array<u32>; // (2·unique + 1 + N)
@group(0) @binding(1) var<storage, read> dout: array<f32>; // (N,C)
@group(0) @binding(2) var<storage, read_write> dweight: array<f32>; // (V,C), accumulated

@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  out[i] = weight[ids[n] * p.C + i % p.C];
}

@compute @workgroup_size(WG)
fn forward4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  out4[i] = weight4[ids[n] * p.C + i % p.C];
}

// Grid: (ceil(C/WG), min(unique, max)); workgroup row y walks the unique ids y, y + nwg.y, …
@compute @workgroup_size(WG)
fn backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x * WG + lid.x;
  if (c >= p.C) { return; }
  let idsAt = p.unique + 1u;
  let positionsAt = 2u * p.unique + 1u;
  for (var u = wid.y; u < p.unique; u += nwg.y) {
    let end = index[u + 1u];
    var s = 0.0;
    for (var k = index[u]; k < end; k++) {
      s += dout[index[positionsAt + k] * p.C + c];
    }
    let o = index[idsAt + u] * p.C + c;
    dweight[o] += s;
  }
}
