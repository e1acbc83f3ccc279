// Mixture-of-Experts routing, forward and backward, dropless with static shapes: the router's softmax/top-k,
// per-expert slot counts → prefix sums → a stable expert-sorted order of the S = N·K slots, gather into contiguous
// expert rows, the weighted combine back to tokens, and the statistics behind the Switch balance loss and the
// router z-loss. The grouped expert matmul is moe_matmul.wgsl; the router projection and SwiGLU itself are
// matmul.wgsl and swiglu.wgsl.

override WG: u32 = 256;
override K: u32 = 2; // experts per token
override ACCUMULATE: bool = false;
override WEIGHTED: bool = true;
const MAXE: u32 = 64u; // the config's upper bound on num_experts
const TILE: u32 = 256u; // slots per planning tile (= WG of count/assign)

struct Params {
  n: u32, // N tokens (or S = N·K slots, per entry point)
  C: u32, // channels, or E experts for the routing entry points
  E: u32,
  extra: u32, // entry-point specific count (tiles, slot)
  f0: f32,
  f1: f32,
  _a: u32,
  _b: u32,
}

fn flat(lid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// ---- route: one thread per token: softmax, logsumexp, entropy, top-K and renormalised weights ----
@group(0) @binding(0) var<storage, read> r_logits: array<f32>; // (N,E)
@group(0) @binding(1) var<storage, read_write> r_probs: array<f32>; // (N,E)
@group(0) @binding(2) var<storage, read_write> r_idx: array<u32>; // (N,K)
@group(0) @binding(3) var<storage, read_write> r_w: array<f32>; // (N,K)
@group(0) @binding(4) var<storage, read_write> r_tok: array<f32>; // (N,2): lse, entropy
@group(0) @binding(5) var<uniform> rp: Params; // n = N, E

@compute @workgroup_size(WG)
fn route(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat(lid, wid, nwg);
  if (t >= rp.n) { return; }
  let E = rp.E;
  let base = t * E;
  var mx = r_logits[base];
  for (var e = 1u; e < E; e++) { mx = max(mx, r_logits[base + e]); }
  var sum = 0.0;
  for (var e = 0u; e < E; e++) { sum += exp(r_logits[base + e] - mx); }
  let lse = mx + log(sum);
  var h = lse;
  for (var e = 0u; e < E; e++) {
    let l = r_logits[base + e];
    let p = exp(l - lse);
    r_probs[base + e] = p;
    h -= p * l;
  }
  r_tok[2u * t] = lse;
  r_tok[2u * t + 1u] = h;
  // Top-K by probability, lower index first on ties (the reference's order).
  var chosen: array<u32, 2>;
  var psum = 0.0;
  for (var k = 0u; k < K; k++) {
    var best = E;
    var bp = -1.0;
    for (var e = 0u; e < E; e++) {
      if (k == 1u && e == chosen[0]) { continue; }
      let p = r_probs[base + e];
      if (p > bp) { bp = p; best = e; }
    }
    chosen[k] = best;
    psum += bp;
  }
  for (var k = 0u; k < K; k++) {
    r_idx[t * K + k] = chosen[k];
    r_w[t * K + k] = r_probs[base + chosen[k]] / psum;
  }
}

// ---- plan step 1, count: slots per expert in each tile of 256 slots ----
@group(0) @binding(0) var<storage, read> c_idx: array<u32>; // (S)
@group(0) @binding(1) var<storage, read_write> c_tiles: array<u32>; // (tiles,E)
@group(0) @binding(2) var<uniform> cp: Params; // n = S, E

var<workgroup> wcount: array<atomic<u32>, MAXE>;

@compute @workgroup_size(TILE)
fn count(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
  let tile = wid.y * nwg.x + wid.x;
  if (lid.x < MAXE) { atomicStore(&wcount[lid.x], 0u); }
  workgroupBarrier();
  let s = tile * TILE + lid.x;
  if (s < cp.n) { atomicAdd(&wcount[c_idx[s]], 1u); }
  workgroupBarrier();
  if (lid.x < cp.E) { c_tiles[tile * cp.E + lid.x] = atomicLoad(&wcount[lid.x]); }
}

// ---- plan step 2, scan: one workgroup; tile bases per expert and the expert offsets (E+1) ----
@group(0) @binding(0) var<storage, read> s_tiles: array<u32>; // (tiles,E)
@group(0) @binding(1) var<storage, read_write> s_base: array<u32>; // (tiles,E)
@group(0) @binding(2) var<storage, read_write> s_offsets: array<u32>; // (E+1)
@group(0) @binding(3) var<uniform> sp: Params; // E, extra = tiles

var<workgroup> wtotal: array<u32, MAXE>;
var<workgroup> woffset: array<u32, MAXE>;

@compute @workgroup_size(MAXE)
fn scan(@builtin(local_invocation_id) lid: vec3<u32>) {
  let e = lid.x;
  let E = sp.E;
  var run = 0u;
  if (e < E) {
    for (var t = 0u; t < sp.extra; t++) {
      s_base[t * E + e] = run;
      run += s_tiles[t * E + e];
    }
  }
  wtotal[e] = run;
  workgroupBarrier();
  if (e == 0u) {
    var acc = 0u;
    for (var i = 0u; i < E; i++) {
      woffset[i] = acc;
      s_offsets[i] = acc;
      acc += wtotal[i];
    }
    s_offsets[E] = acc;
  }
  workgroupBarrier();
  if (e < E) {
    let o = woffset[e];
    for (var t = 0u; t < sp.extra; t++) { s_base[t * E + e] += o; }
  }
}

// ---- plan step 3, assign: each slot's row (stable: rank among earlier slots of the tile with its expert) ----
@group(0) @binding(0) var<storage, read> a_idx: array<u32>; // (S)
@group(0) @binding(1) var<storage, read> a_base: array<u32>; // (tiles,E)
@group(0) @binding(2) var<storage, read_write> a_pos: array<u32>; // (S) row of each slot
@group(0) @binding(3) var<storage, read_write> a_rowslot: array<u32>; // (S) slot of each row
@group(0) @binding(4) var<uniform> ap: Params; // n = S, E

var<workgroup> wexp: array<u32, TILE>;

@compute @workgroup_size(TILE)
fn assign(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  let tile = wid.y * nwg.x + wid.x;
  let s = tile * TILE + lid.x;
  var e = MAXE;
  if (s < ap.n) { e = a_idx[s]; }
  wexp[lid.x] = e;
  workgroupBarrier();
  if (s >= ap.n) { return; }
  var rank = 0u;
  for (var j = 0u; j < lid.x; j++) { rank += select(0u, 1u, wexp[j] == e); }
  let row = a_base[tile * ap.E + e] + rank;
  a_pos[s] = row;
  a_rowslot[row] = s;
}

// ---- gather: xg[row] = x[token of rowSlot[row]], one thread per element of (S,C) ----
@group(0) @binding(0) var<storage, read> g_x: array<f32>; // (N,C)
@group(0) @binding(1) var<storage, read> g_rowslot: array<u32>; // (S)
@group(0) @binding(2) var<storage, read_write> g_out: array<f32>; // (S,C)
@group(0) @binding(3) var<uniform> gp: Params; // n = S, C

@compute @workgroup_size(WG)
fn gather(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(lid, wid, nwg);
  if (i >= gp.n * gp.C) { return; }
  let row = i / gp.C;
  let c = i - row * gp.C;
  g_out[i] = g_x[(g_rowslot[row] / K) * gp.C + c];
}

// ---- spread (combine's backward for the rows): dyg[row] = w[slot] · dy[token], (S,C) ----
@group(0) @binding(0) var<storage, read> sp_dy: array<f32>; // (N,C)
@group(0) @binding(1) var<storage, read> sp_rowslot: array<u32>; // (S)
@group(0) @binding(2) var<storage, read> sp_w: array<f32>; // (N,K)
@group(0) @binding(3) var<storage, read_write> sp_out: array<f32>; // (S,C)
@group(0) @binding(4) var<uniform> spp: Params; // n = S, C

@compute @workgroup_size(WG)
fn spread(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(lid, wid, nwg);
  if (i >= spp.n * spp.C) { return; }
  let row = i / spp.C;
  let c = i - row * spp.C;
  let slot = sp_rowslot[row];
  sp_out[i] = sp_w[slot] * sp_dy[(slot / K) * spp.C + c];
}

// ---- combine: out[t] (+)= Σ_k w[t,k] · rows[pos[t·K+k]] (unit weights when !WEIGHTED), (N,C) ----
@group(0) @binding(0) var<storage, read> m_rows: array<f32>; // (S,C)
@group(0) @binding(1) var<storage, read> m_pos: array<u32>; // (S)
@group(0) @binding(2) var<storage, read> m_w: array<f32>; // (N,K)
@group(0) @binding(3) var<storage, read_write> m_out: array<f32>; // (N,C)
@group(0) @binding(4) var<uniform> mp: Params; // n = N, C

@compute @workgroup_size(WG)
fn combine(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(lid, wid, nwg);
  if (i >= mp.n * mp.C) { return; }
  let t = i / mp.C;
  let c = i - t * mp.C;
  var v = 0.0;
  for (var k = 0u; k < K; k++) {
    var w = 1.0;
    if (WEIGHTED) { w = m_w[t * K + k]; }
    v += w * m_rows[m_pos[t * K + k] * mp.C + c];
  }
  if (ACCUMULATE) { v += m_out[i]; }
  m_out[i] = v;
}

// ---- weight_grad: dw[slot] = dy[token] · yg[pos[slot]], one thread per slot ----
@group(0) @binding(0) var<storage, read> wg_dy: array<f32>; // (N,C)
@group(0) @binding(1) var<storage, read> wg_rows: array<f32>; // (S,C) expert outputs
@group(0) @binding(2) var<storage, read> wg_pos: array<u32>; // (S)
@group(0) @binding(3) var<storage, read_write> wg_dw: array<f32>; // (N,K)
@group(0) @binding(4) var<uniform> wgp: Params; // n = S, C

@compute @workgroup_size(WG)
fn weight_grad(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = flat(lid, wid, nwg);
  if (s >= wgp.n) { return; }
  let a = (s / K) * wgp.C;
  let b = wg_pos[s] * wgp.C;
  var acc = 0.0;
  for (var c = 0u; c < wgp.C; c++) { acc = fma(wg_dy[a + c], wg_rows[b + c], acc); }
  wg_dw[s] = acc;
}

// ---- route_backward: dlogits (N,E) from dw (top-k renormalisation), the balance loss and the z-loss ----
@group(0) @binding(0) var<storage, read> rb_probs: array<f32>; // (N,E)
@group(0) @binding(1) var<storage, read> rb_idx: array<u32>; // (N,K)
@group(0) @binding(2) var<storage, read> rb_w: array<f32>; // (N,K)
@group(0) @binding(3) var<storage, read> rb_dw: array<f32>; // (N,K)
@group(0) @binding(4) var<storage, read> rb_tok: array<f32>; // (N,2): lse, entropy
@group(0) @binding(5) var<storage, read> rb_offsets: array<u32>; // (E+1)
@group(0) @binding(6) var<storage, read_write> rb_dlogits: array<f32>; // (N,E)
@group(0) @binding(7) var<uniform> rbp: Params; // n = N, E, f0 = scale·aux_coef·E/N, f1 = scale·z_coef·2/N

@compute @workgroup_size(WG)
fn route_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat(lid, wid, nwg);
  if (t >= rbp.n) { return; }
  let E = rbp.E;
  let base = t * E;
  let S = f32(rbp.n * K);
  var dp: array<f32, MAXE>;
  for (var e = 0u; e < E; e++) {
    dp[e] = rbp.f0 * f32(rb_offsets[e + 1u] - rb_offsets[e]) / S; // d(balance)/dP_e · dP_e/dp_te
  }
  var psum = 0.0;
  var wdot = 0.0;
  for (var k = 0u; k < K; k++) {
    psum += rb_probs[base + rb_idx[t * K + k]];
    wdot += rb_dw[t * K + k] * rb_w[t * K + k];
  }
  for (var k = 0u; k < K; k++) {
    let e = rb_idx[t * K + k];
    dp[e] += (rb_dw[t * K + k] - wdot) / psum;
  }
  var pdot = 0.0;
  for (var e = 0u; e < E; e++) { pdot += rb_probs[base + e] * dp[e]; }
  let zg = rbp.f1 * rb_tok[2u * t];
  for (var e = 0u; e < E; e++) {
    let p = rb_probs[base + e];
    rb_dlogits[base + e] = p * (dp[e] - pdot) + zg * p;
  }
}

// ---- stats: one workgroup; [balance, entropy, z, aux, f_0..f_E-1, P_0..P_E-1] ----
@group(0) @binding(0) var<storage, read> st_probs: array<f32>; // (N,E)
@group(0) @binding(1) var<storage, read> st_tok: array<f32>; // (N,2)
@group(0) @binding(2) var<storage, read> st_offsets: array<u32>; // (E+1)
@group(0) @binding(3) var<storage, read_write> st_out: array<f32>; // (4 + 2E)
@group(0) @binding(4) var<uniform> stp: Params; // n = N, E, f0 = aux_coef, f1 = z_coef

var<workgroup> wred: array<f32, TILE>;
var<workgroup> wsums: array<f32, 66>; // MAXE + 2

@compute @workgroup_size(TILE)
fn stats(@builtin(local_invocation_id) lid: vec3<u32>) {
  let N = stp.n;
  let E = stp.E;
  // Quantity q < E: Σ_t p_tq; q = E: Σ_t entropy; q = E + 1: Σ_t lse². Fixed-order tree: deterministic.
  for (var q = 0u; q < E + 2u; q++) {
    var acc = 0.0;
    for (var t = lid.x; t < N; t += TILE) {
      if (q < E) {
        acc += st_probs[t * E + q];
      } else if (q == E) {
        acc += st_tok[2u * t + 1u];
      } else {
        let l = st_tok[2u * t];
        acc += l * l;
      }
    }
    wred[lid.x] = acc;
    workgroupBarrier();
    for (var half = TILE / 2u; half > 0u; half /= 2u) {
      if (lid.x < half) { wred[lid.x] += wred[lid.x + half]; }
      workgroupBarrier();
    }
    if (lid.x == 0u) { wsums[q] = wred[0]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let S = f32(N * K);
    var balance = 0.0;
    for (var e = 0u; e < E; e++) {
      let f = f32(st_offsets[e + 1u] - st_offsets[e]) / S;
      let P = wsums[e] / f32(N);
      st_out[4u + e] = f;
      st_out[4u + E + e] = P;
      balance += f * P;
    }
    balance *= f32(E);
    let z = wsums[E + 1u] / f32(N);
    st_out[0] = balance;
    st_out[1] = wsums[E] / f32(N);
    st_out[2] = z;
    st_out[3] = stp.f0 * balance + stp.f1 * z;
  }
}

// ---- add_loss: acc[slot] += scale · stats[3] (the auxiliary losses into the training-loss scalar) ----
@group(0) @binding(0) var<storage, read> al_stats: array<f32>;
@group(0) @binding(1) var<storage, read_write> al_acc: array<f32>;
@group(0) @binding(2) var<uniform> alp: Params; // extra = slot, f0 = scale

@compute @workgroup_size(1)
fn add_loss() {
  al_acc[alp.extra] += alp.f0 * al_stats[3];
}
