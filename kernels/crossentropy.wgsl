// Fused softmax cross-entropy over the vocabulary, one workgroup per row: an online max/sum pass gives the
// per-token loss = logsumexp(logits) − logits[target], then (with WRITE_GRAD) a second pass overwrites the logits IN
// PLACE with dlogits = (softmax − onehot) · dscale. A target ≥ V is ignored (loss 0, zero gradient). loss_sum reduces
// the per-token losses into one accumulator slot with a fixed tree, so the trainer reads a scalar only every
// log_interval steps. Not the LM-head matmul that produces the logits.

override WG: u32 = 256; // threads per row, a power of two ≤ 256
override WRITE_GRAD: bool = true; // false: evaluation, logits are left untouched
override CACHED: bool = true; // V ≤ MAXK · WG: the row stays in registers between the two passes
const MAXK: u32 = 16u;
const LOWEST: f32 = -3.0e38; // "no value yet": exp(LOWEST − m) is 0 for any real m

struct Params {
  N: u32,
  V: u32,
  dscale: f32,
  _a: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>; // (N,V) → dlogits (N,V)
@group(0) @binding(1) var<storage, read> targets: array<u32>; // (N)
@group(0) @binding(2) var<storage, read_write> losses: array<f32>; // (N)
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> red_m: array<f32, 256>;
var<workgroup> red_s: array<f32, 256>;

// Grid: (min(N, max)); workgroup x walks rows x, x + nwg.x, …
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = lid.x;
  let V = p.V;
  var vals: array<f32, MAXK>;
  for (var row = wid.x; row < p.N; row += nwg.x) {
    let base = row * V;
    let tgt = targets[row];
    var tl = 0.0;
    if (t == 0u && tgt < V) { tl = logits[base + tgt]; }
    // Pass 1: this thread's running max m and Σ exp(l − m).
    var m = LOWEST;
    var s = 0.0;
    if (CACHED) {
      for (var k = 0u; k < MAXK; k++) {
        let v = t + k * WG;
        if (v < V) {
          let l = logits[base + v];
          vals[k] = l;
          m = max(m, l);
        }
      }
      for (var k = 0u; k < MAXK; k++) {
        if (t + k * WG < V) { s += exp(vals[k] - m); }
      }
    } else {
      for (var v = t; v < V; v += WG) {
        let l = logits[base + v];
        if (l > m) {
          s = s * exp(m - l) + 1.0;
          m = l;
        } else {
          s += exp(l - m);
        }
      }
    }
    // Combine the (m, s) pairs of all threads with a fixed tree.
    red_m[t] = m;
    red_s[t] = s;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h >>= 1u) {
      if (t < h) {
        let mb = red_m[t + h];
        let mm = max(red_m[t], mb);
        red_s[t] = red_s[t] * exp(red_m[t] - mm) + red_s[t + h] * exp(mb - mm);
        red_m[t] = mm;
      }
      workgroupBarrier();
    }
    let lse = red_m[0] + log(red_s[0]);
    workgroupBarrier();
    let valid = tgt < V;
    if (t == 0u) { losses[row] = select(0.0, lse - tl, valid); }
    // Pass 2: dlogits in place (every thread read its own elements in pass 1; thread 0 read the target).
    if (WRITE_GRAD) {
      let scale = select(0.0, p.dscale, valid);
      if (CACHED) {
        for (var k = 0u; k < MAXK; k++) {
          let v = t + k * WG;
          if (v < V) { logits[base + v] = (exp(vals[k] - lse) - select(0.0, 1.0, v == tgt)) * scale; }
        }
      } else {
        for (var v = t; v < V; v += WG) {
          logits[base + v] = (exp(logits[base + v] - lse) - select(0.0, 1.0, v == tgt)) * scale;
        }
      }
    }
  }
}

struct SumParams {
  N: u32,
  slot: u32,
  accumulate: u32, // 1: acc[slot] += Σ; 0: acc[slot] = Σ
  _a: u32,
}

// loss_sum (aliases the bindings above; no entry point uses both sets)
@group(0) @binding(0) var<storage, read> s_losses: array<f32>; // (N)
@group(0) @binding(1) var<storage, read_write> s_acc: array<f32>; // (slots)
@group(0) @binding(2) var<uniform> sp: SumParams;

// Grid: (1); 256 threads each sum a strided slice in order, then a fixed tree.
@compute @workgroup_size(256)
fn loss_sum(@builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  var s = 0.0;
  for (var i = t; i < sp.N; i += 256u) { s += s_losses[i]; }
  red_s[t] = s;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (t < h) { red_s[t] += red_s[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    var total = red_s[0];
    if (sp.accumulate != 0u) { total += s_acc[sp.slot]; }
    s_acc[sp.slot] = total;
  }
}
