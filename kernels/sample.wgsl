// Token sampling on the GPU, one workgroup per sequence s over its logits row (V): greedy argmax, or temperature
// with top-k and top-p. Small top-k (≤ MAXC) takes the fast path: a 4-pass radix select of the k-th largest key,
// then one thread sorts the candidates, applies top-p and picks. Otherwise the thresholds come from a 32-step
// bitwise search over order-preserving u32 keys (no sort) and the pick walks index order across threads. The RNG
// is counter-based, u = hash(seed, counter). The sampled id is written where the next decode step's embedding
// gather reads it (ids[dst]), so a chunk of decode steps needs no host round trip; DECODE also advances the
// sequence's position and RNG counter, which also moves its output row, so every step of a chunk replays the
// same dispatch. First a logit bias adds to the logits of the ids in the sequence's (id, bias) list; then a
// CTRL-style repetition penalty rescales, in place, the logits of the ids set in the slot's seen-token bitmap
// (prompt and generated ids); presence and frequency penalties then subtract from the logits of the ids this
// request has generated (per-slot counts after the bitmap); the sampled id joins both (vLLM's order).
// With logprobs asked, the log-softmax of the raw row (before any bias, penalty or temperature) gives the sampled
// id's log-probability and the top-n ids, written as one record per output row after the ids (the penalties keep
// the raw logits they change in `raw`, the bias in workgroup memory). prompt_logprobs scores prefill rows the same
// way, each at its next prompt id. Twin: src/reference/sample.ts (same kept set and pick; sums may round
// differently).
override WG: u32 = 256u;
override DECODE: bool = true;

const LPN: u32 = 5u; // most top entries per logprob record (OpenAI's limit)
const LPW: u32 = 11u; // u32 words per record: [logprob, LPN ids, LPN logprobs] (f32 as bits)
const NO_TARGET: u32 = 0xffffffffu;

struct Params {
  V: u32,
  S: u32, // sequences (workgroups); prompt_logprobs: rows of this piece
  step: u32, // output row of counter == start: out[(step + counter − start)·S + s]
  words: u32, // u32 words per seen bitmap: ⌈V/32⌉; a slot's state is words + V u32 (bitmap, then counts)
  lp_base: u32, // out[lp_base + r·LPW ..]: the logprob record of output r (prompt_logprobs: of row row0 + r)
  row0: u32, // prompt_logprobs: the piece's first prefill row
  top_n: u32, // prompt_logprobs: top entries per record
  _pad: u32,
}

struct Spec {
  dst: u32, // ids[dst] and rows[dst] belong to this sequence's next decode row
  seed: u32,
  counter: u32, // index of the token being generated
  top_k: u32, // 0: off
  temperature: f32, // ≤ 0: greedy
  top_p: f32, // ≥ 1: off
  start: u32, // counter at output row `step`
  penalty: f32, // repetition penalty: seen logits l > 0 become l/penalty, others l·penalty; 1 or ≤ 0: off
  presence: f32, // generated ids (count c > 0): l −= presence + frequency·c; both 0: off
  frequency: f32,
  logprobs: u32, // 0: off; else 1 + the top entries to record
  bias_off: u32, // this sequence's logit bias: bias[bias_off .. bias_off + bias_n]
  bias_n: u32, // 0: off
  _pad: u32,
}

struct Row {
  slot: u32, // KV-cache slot
  pos: u32, // position of this row's token
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>; // (S,V); the penalty rescales in place
@group(0) @binding(1) var<storage, read_write> specs: array<Spec>; // (S)
@group(0) @binding(2) var<storage, read_write> ids: array<u32>; // next step's token ids
@group(0) @binding(3) var<storage, read_write> out: array<u32>; // (steps,S) sampled ids; records from lp_base
@group(0) @binding(4) var<storage, read_write> rows: array<Row>; // next step's rows (DECODE advances pos)
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<storage, read_write> seen: array<u32>; // (slots, words + V): bitmap, generated counts
@group(0) @binding(7) var<storage, read_write> raw: array<f32>; // (S,V) raw logits of changed ids (logprobs)
@group(0) @binding(8) var<storage, read_write> targets: array<u32>; // (rows) prompt_logprobs: next prompt id
@group(0) @binding(9) var<storage, read_write> bias: array<vec2<u32>>; // (id, f32 bias bits) lists, ids unique

const LB: u32 = 300u; // most (id, bias) pairs per sequence (OpenAI's limit)
var<workgroup> bias_raw: array<f32, LB>; // the raw logit of each listed id, for the record

var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> spec_w: Spec; // read through workgroupUniformLoad: barriers below branch on it

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn key_of(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn sum_f(tid: u32, v: f32) -> f32 {
  red_f[tid] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (tid < w) { red_f[tid] += red_f[tid + w]; }
    workgroupBarrier();
  }
  let r = red_f[0];
  workgroupBarrier();
  return r;
}

fn sum_u(tid: u32, v: u32) -> u32 {
  red_u[tid] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (tid < w) { red_u[tid] += red_u[tid + w]; }
    workgroupBarrier();
  }
  let r = red_u[0];
  workgroupBarrier();
  return r;
}

// Workgroup argmax of each thread's candidate (value v at index i; i == none: no candidate), ties to the lower
// index: (index, value bits), `none` when no thread had one.
fn arg_max(tid: u32, v: f32, i: u32, none: u32) -> vec2<u32> {
  red_f[tid] = v;
  red_u[tid] = i;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (tid < w) {
      let ob = red_f[tid + w];
      let oi = red_u[tid + w];
      if (oi != none && (red_u[tid] == none || ob > red_f[tid] || (ob == red_f[tid] && oi < red_u[tid]))) {
        red_f[tid] = ob;
        red_u[tid] = oi;
      }
    }
    workgroupBarrier();
  }
  let r = vec2<u32>(red_u[0], bitcast<u32>(red_f[0]));
  workgroupBarrier();
  return r;
}

var<workgroup> top_i: array<u32, LPN>; // the row's n largest raw logits, in order (row_stats)
var<workgroup> top_v: array<f32, LPN>;

// log Σ exp of the raw row (its log-softmax normalizer) and its n ≤ LPN largest entries into top_i/top_v
// (ties to the lower index), by n argmax rounds that skip the ids already taken.
fn row_stats(tid: u32, base: u32, lo: u32, hi: u32, V: u32, n: u32) -> f32 {
  var m = 0.0;
  for (var j = 0u; j < max(n, 1u); j++) {
    var best = 0.0;
    var bi = V;
    for (var i = lo; i < hi; i++) {
      var taken = false;
      for (var k = 0u; k < j; k++) { taken = taken || top_i[k] == i; }
      let l = logits[base + i];
      if (!taken && (bi == V || l > best)) { best = l; bi = i; }
    }
    let r = arg_max(tid, best, bi, V);
    if (tid == 0u && j < LPN) {
      top_i[j] = r.x;
      top_v[j] = bitcast<f32>(r.y);
    }
    if (j == 0u) { m = bitcast<f32>(r.y); }
    workgroupBarrier();
  }
  var part = 0.0;
  for (var i = lo; i < hi; i++) { part += exp(logits[base + i] - m); }
  return m + log(sum_f(tid, part));
}

// Thread 0: the logprob record at out[o]: lp, then the n top ids and their log-probabilities (norm: log Σ exp).
fn write_record(o: u32, lp: f32, n: u32, norm: f32) {
  out[o] = bitcast<u32>(lp);
  for (var j = 0u; j < min(n, LPN); j++) {
    out[o + 1u + j] = top_i[j];
    out[o + 1u + LPN + j] = bitcast<u32>(top_v[j] - norm);
  }
}

const MAXC: u32 = 256u; // candidates the single-thread finish handles
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> cand_n: atomic<u32>;
var<workgroup> cand_i: array<u32, MAXC>;
var<workgroup> cand_w: array<f32, MAXC>;
var<workgroup> sel: vec2<u32>; // (key prefix, rank still needed)
var<workgroup> fast_w: u32;

// Swaps candidates a and b (index and weight).
fn swap_cand(a: u32, b: u32) {
  let i = cand_i[a];
  cand_i[a] = cand_i[b];
  cand_i[b] = i;
  let w = cand_w[a];
  cand_w[a] = cand_w[b];
  cand_w[b] = w;
}

// The top-k case in a few barriers: the k-th largest key by a 4-pass 8-bit radix select over workgroup
// histograms (the same key the bitwise search finds), the tokens at or above it gathered, then thread 0 sorts
// them, applies top-p and picks in index order. Returns the token, or V (uniformly) when ties overflow MAXC.
fn sample_top_k(tid: u32, base: u32, lo: u32, hi: u32, max_l: f32, spec: Spec) -> u32 {
  var prefix = 0u;
  var mask = 0u;
  var need = spec.top_k;
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    for (var b = tid; b < 256u; b += WG) { atomicStore(&hist[b], 0u); }
    if (tid == 0u) { atomicStore(&cand_n, 0u); }
    workgroupBarrier();
    for (var i = lo; i < hi; i++) {
      let k = key_of(logits[base + i]);
      if ((k & mask) == prefix) { atomicAdd(&hist[(k >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (tid == 0u) {
      var acc = 0u;
      for (var b = 255i; b >= 0i; b--) {
        let c = atomicLoad(&hist[u32(b)]);
        if (acc + c >= need) {
          sel = vec2<u32>(prefix | (u32(b) << shift), need - acc);
          break;
        }
        acc += c;
      }
    }
    workgroupBarrier();
    prefix = sel.x;
    need = sel.y;
    mask |= 255u << shift;
  }
  let kth = prefix;
  for (var i = lo; i < hi; i++) {
    if (key_of(logits[base + i]) >= kth) {
      let slot = atomicAdd(&cand_n, 1u);
      if (slot < MAXC) { cand_i[slot] = i; }
    }
  }
  workgroupBarrier();
  if (tid == 0u) {
    let n = atomicLoad(&cand_n);
    fast_w = V_NONE;
    if (n <= MAXC) { fast_w = finish_top_k(n, base, max_l, spec); }
  }
  return workgroupUniformLoad(&fast_w);
}

const V_NONE: u32 = 0xffffffffu;

// Thread 0 alone: candidates sorted by logit (ties by index), top-p over them, the pick in index order.
fn finish_top_k(n: u32, base: u32, max_l: f32, spec: Spec) -> u32 {
  let inv_t = 1.0 / spec.temperature;
  for (var a = 1u; a < n; a++) {
    var b = a;
    while (b > 0u) {
      let x = logits[base + cand_i[b - 1u]];
      let y = logits[base + cand_i[b]];
      if (key_of(x) > key_of(y) || (key_of(x) == key_of(y) && cand_i[b - 1u] < cand_i[b])) { break; }
      swap_cand(b - 1u, b);
      b--;
    }
  }
  var total = 0.0;
  for (var j = 0u; j < n; j++) {
    cand_w[j] = exp((logits[base + cand_i[j]] - max_l) * inv_t);
    total += cand_w[j];
  }
  var m = n; // kept: the first m of the sorted list
  if (spec.top_p < 1.0) {
    let goal = spec.top_p * total;
    var acc = 0.0;
    for (var j = 0u; j < n; j++) {
      acc += cand_w[j];
      let last_of_tie = j + 1u == n || key_of(logits[base + cand_i[j + 1u]]) != key_of(logits[base + cand_i[j]]);
      if (last_of_tie && acc >= goal) {
        m = j + 1u;
        break;
      }
    }
    total = 0.0;
    for (var j = 0u; j < m; j++) { total += cand_w[j]; }
  }
  let best = cand_i[0];
  for (var a = 1u; a < m; a++) {
    var b = a;
    while (b > 0u && cand_i[b - 1u] > cand_i[b]) {
      swap_cand(b - 1u, b);
      b--;
    }
  }
  let h = pcg(spec.seed ^ pcg(spec.counter ^ 0x9e3779b9u));
  let r = f32(h >> 8u) * (1.0 / 16777216.0) * total;
  var run = 0.0;
  for (var j = 0u; j < m; j++) {
    run += cand_w[j];
    if (run > r) { return cand_i[j]; }
  }
  return best;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = wid.x;
  let tid = lid.x;
  let V = p.V;
  let base = s * V;
  if (tid == 0u) { spec_w = specs[s]; }
  let spec = workgroupUniformLoad(&spec_w);
  // Each thread owns a contiguous chunk, so the final pick walks tokens in index order.
  let per = (V + WG - 1u) / WG;
  let lo = min(V, tid * per);
  let hi = min(V, lo + per);
  let state = rows[spec.dst].slot * (p.words + V); // bitmap at state, counts at state + words
  // Logprobs read the raw row, so they come before the penalties rescale it in place.
  var norm = 0.0;
  if (spec.logprobs > 0u) { norm = row_stats(tid, base, lo, hi, V, spec.logprobs - 1u); }
  let rep = spec.penalty > 0.0 && spec.penalty != 1.0;
  let pf = spec.presence != 0.0 || spec.frequency != 0.0;
  let keep = spec.logprobs > 0u; // the record reads the raw logit of a changed id back: bias_raw, then raw
  if (spec.bias_n > 0u) {
    for (var k = tid; k < min(spec.bias_n, LB); k += WG) {
      let e = bias[spec.bias_off + k];
      if (e.x >= V) { continue; }
      let l = logits[base + e.x];
      if (keep) { bias_raw[k] = l; }
      logits[base + e.x] = l + bitcast<f32>(e.y);
    }
    if (rep || pf) { storageBarrier(); } // the list's ids fall in any thread's range; else the one below serves
  }
  if (rep || pf) {
    for (var i = lo; i < hi; i++) {
      let hit = rep && seen_bit(state, i);
      var c = 0u;
      if (pf) { c = seen[state + p.words + i]; }
      if (!hit && c == 0u) { continue; }
      var l = logits[base + i];
      if (keep) { raw[base + i] = l; } // the record reads it back (penalized(…) holds; biased: bias_raw)
      if (hit) { l = select(l * spec.penalty, l / spec.penalty, l > 0.0); }
      if (c > 0u) { l -= spec.presence + spec.frequency * f32(c); }
      logits[base + i] = l;
    }
  }
  storageBarrier(); // thread 0's top-k finish reads every thread's range

  // 1. max and first argmax
  var best = -3.4e38;
  var bi = V;
  for (var i = lo; i < hi; i++) {
    let l = logits[base + i];
    if (l > best || bi == V) { best = l; bi = i; }
  }
  let am = arg_max(tid, best, bi, V);
  let max_l = bitcast<f32>(am.y);
  var token = am.x;

  if (spec.temperature > 0.0) {
    // Fast path for small top-k: radix-select the threshold, then one thread finishes over ≤ MAXC candidates.
    var fast = V_NONE;
    if (spec.top_k > 0u && spec.top_k <= MAXC && spec.top_k < V) {
      fast = sample_top_k(tid, base, lo, hi, max_l, spec);
    }
    if (fast != V_NONE) {
      token = fast;
    } else {
      // 2. top-k threshold: the k-th largest key
      var kth = 0u;
      if (spec.top_k > 0u && spec.top_k < V) {
        for (var b = 31i; b >= 0i; b--) {
          let cand = kth | (1u << u32(b));
          var n = 0u;
          for (var i = lo; i < hi; i++) { n += select(0u, 1u, key_of(logits[base + i]) >= cand); }
          if (sum_u(tid, n) >= spec.top_k) { kth = cand; }
        }
      }
      // 3. weights of the kept tokens and the top-p threshold over them
      let inv_t = 1.0 / spec.temperature;
      var part = 0.0;
      for (var i = lo; i < hi; i++) {
        let l = logits[base + i];
        if (key_of(l) >= kth) { part += exp((l - max_l) * inv_t); }
      }
      var total = sum_f(tid, part);
      var thr = kth;
      if (spec.top_p < 1.0) {
        let goal = spec.top_p * total;
        var t = 0u;
        for (var b = 31i; b >= 0i; b--) {
          let cand = t | (1u << u32(b));
          var m = 0.0;
          for (var i = lo; i < hi; i++) {
            let l = logits[base + i];
            let k = key_of(l);
            if (k >= cand && k >= kth) { m += exp((l - max_l) * inv_t); }
          }
          if (sum_f(tid, m) >= goal) { t = cand; }
        }
        thr = max(t, kth);
        part = 0.0;
        for (var i = lo; i < hi; i++) {
          let l = logits[base + i];
          if (key_of(l) >= thr) { part += exp((l - max_l) * inv_t); }
        }
        total = sum_f(tid, part);
      }
      // 4. pick: exclusive prefix of the chunk masses, then the chunk holding r walks its tokens
      let h = pcg(spec.seed ^ pcg(spec.counter ^ 0x9e3779b9u));
      let r = f32(h >> 8u) * (1.0 / 16777216.0) * total;
      red_f[tid] = part;
      workgroupBarrier();
      if (tid == 0u) {
        var run = 0.0;
        for (var j = 0u; j < WG; j++) {
          let m = red_f[j];
          red_f[j] = run;
          run += m;
        }
      }
      workgroupBarrier();
      var run = red_f[tid];
      var found = V;
      if (run <= r) {
        for (var i = lo; i < hi; i++) {
          let l = logits[base + i];
          if (key_of(l) < thr) { continue; }
          run += exp((l - max_l) * inv_t);
          if (run > r) { found = i; break; }
        }
      }
      red_u[tid] = found;
      workgroupBarrier();
      for (var w = WG / 2u; w > 0u; w /= 2u) {
        if (tid < w) { red_u[tid] = min(red_u[tid], red_u[tid + w]); }
        workgroupBarrier();
      }
      if (red_u[0] != V) { token = red_u[0]; }
    }
  }

  if (tid == 0u) {
    let r = (p.step + spec.counter - spec.start) * p.S + s;
    ids[spec.dst] = token;
    out[r] = token;
    if (keep) {
      var l = logits[base + token];
      let kb = bias_index(spec, token);
      if (kb < LB) {
        l = bias_raw[kb];
      } else if ((rep || pf) && penalized(state, token, rep, pf)) {
        l = raw[base + token];
      }
      write_record(p.lp_base + r * LPW, l - norm, spec.logprobs - 1u, norm);
    }
    seen[state + token / 32u] |= 1u << (token % 32u);
    if (pf) { seen[state + p.words + token] += 1u; }
    if (DECODE) {
      rows[spec.dst].pos += 1u;
      specs[s].counter = spec.counter + 1u;
    }
  }
}

// Where id i is in the sequence's logit bias list, or LB when it is not (thread 0, for the record).
fn bias_index(spec: Spec, i: u32) -> u32 {
  for (var k = 0u; k < min(spec.bias_n, LB); k++) {
    if (bias[spec.bias_off + k].x == i) { return k; }
  }
  return LB;
}

fn seen_bit(state: u32, i: u32) -> bool {
  return ((seen[state + i / 32u] >> (i % 32u)) & 1u) != 0u;
}

// Whether a penalty touches id i: the repetition penalty every seen id, presence/frequency the generated ones.
fn penalized(state: u32, i: u32, rep: bool, pf: bool) -> bool {
  return (rep && seen_bit(state, i)) || (pf && seen[state + p.words + i] > 0u);
}

var<workgroup> target_w: u32;

// One workgroup per prefill row of this piece (logits (S,V) = the rows' head outputs): the record of the row's
// next prompt id targets[row0 + r] at out[lp_base + (row0 + r)·LPW]; rows without one (NO_TARGET) are skipped.
@compute @workgroup_size(WG)
fn prompt_logprobs(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tid = lid.x;
  let row = p.row0 + wid.x;
  if (tid == 0u) { target_w = targets[row]; }
  let next = workgroupUniformLoad(&target_w);
  if (next == NO_TARGET) { return; }
  let V = p.V;
  let base = wid.x * V;
  let per = (V + WG - 1u) / WG;
  let lo = min(V, tid * per);
  let hi = min(V, lo + per);
  let norm = row_stats(tid, base, lo, hi, V, p.top_n);
  if (tid == 0u) { write_record(p.lp_base + row * LPW, logits[base + next] - norm, p.top_n, norm); }
}
