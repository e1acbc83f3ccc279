// Fused causal attention with grouped KV heads, flash style: no T×T matrix ever reaches memory. q (B,T,NH,HS),
// k and v (B,T,KVH,HS), out (B,T,NH,HS), lse (B,NH,T); head h reads kv head h / group; key tiles past the diagonal
// are skipped. Backward (FlashAttention-2 style, no float atomics, so deterministic): backward_delta (in the
// prelude) computes delta = rowsum(dout∘out); backward_kv_blocked walks the query tiles of every head of its kv
// group accumulating dk and dv in registers; backward_q_blocked walks the key tiles accumulating dq; both rebuild
// P = exp(q·k·scale − lse). This file holds the register-blocked kernels, the fast path; the row kernels of
// attention_rows.wgsl serve head sizes these cannot fit. src/kernels/attention.ts prepends attention_common.wgsl
// (Params, bindings, chunk loaders, backward_delta) to each.
//
// A TX×TY workgroup owns BR = 4·TY rows and streams tiles of BC = 4·TX columns; thread (tx, ty) computes the 4×4
// block of rows ty + TY·i and columns tx + TX·j, and accumulates output chunks tx and tx + TX of its 4 rows
// (so HS/4 ≤ 2·TX). Every register value is a named vec4, never a function-scope array indexed in a loop: the row
// kernels, which do that, run 3× slower on an H200, as if the arrays lived in local memory.
override TY: u32 = 16u;
override TX: u32 = 8u;
override BR: u32 = 4u * TY; // rows per workgroup
override BC: u32 = 4u * TX; // columns per streamed tile

// (row tile, head, batch) of a blocked workgroup. The grid is (heads, B, tiles) with z = 0 the tile with the most
// work (causal: the last query tile, the first key tile), so long workgroups start first instead of trailing the
// dispatch (10–15% on an H200).
fn tile_of(wid: vec3<u32>, heavy_last: bool) -> vec3<u32> {
  let nt = (p.T + BR - 1u) / BR;
  return vec3(select(wid.z, nt - 1u - wid.z, heavy_last), wid.x, wid.y);
}
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;

var<workgroup> Ar: array<vec4<f32>, BR * RS>; // (BR, HS4) row operand: q (forward, backward_q) or k
var<workgroup> Br: array<vec4<f32>, BR * RS>; // (BR, HS4) second row operand: dout (backward_q) or v
var<workgroup> Ac: array<vec4<f32>, BC * RS>; // (BC, HS4) column operand: k then v (forward), k, or q
var<workgroup> Bc: array<vec4<f32>, BC * RS>; // (BC, HS4) second column operand: v or dout
var<workgroup> P4: array<vec4<f32>, BC * TY>; // P4[col·TY + ty]: P or dS at (rows ty + TY·i in xyzw, col)
var<workgroup> M4: array<vec4<f32>, TX * TY>; // M4[tx·TY + ty]: partial row maxima of thread (tx, ty)
var<workgroup> Lc: array<f32, BC>; // log2-domain lse of the column queries (backward_kv)
var<workgroup> Dc: array<f32, BC>; // delta of the column queries (backward_kv)

fn dot4(a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>, x: vec4<f32>) -> vec4<f32> {
  return vec4(dot(a0, x), dot(a1, x), dot(a2, x), dot(a3, x));
}

@compute @workgroup_size(TX, TY)
fn forward_blocked(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let wid = tile_of(wg, true);
  let T = p.T;
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * TX + tx;
  let h = wid.y;
  let b = wid.z;
  let kh = h / p.group;
  let q0 = wid.x * BR;
  for (var e = tid; e < BR * HS4; e += TX * TY) {
    let row = e / HS4;
    var x = vec4<f32>(0.0);
    if (q0 + row < T) { x = q4(((b * T + q0 + row) * p.NH + h) * HS, e % HS4); }
    Ar[row * RS + e % HS4] = x;
  }
  let qi = vec4<u32>(q0 + ty) + vec4<u32>(0u, TY, 2u * TY, 3u * TY); // this thread's queries
  let da = min(tx, RS - 1u); // output chunks (the clamped one, if any, is computed and dropped)
  let db = min(tx + TX, RS - 1u);
  var oa0 = vec4<f32>(0.0);
  var oa1 = vec4<f32>(0.0);
  var oa2 = vec4<f32>(0.0);
  var oa3 = vec4<f32>(0.0);
  var ob0 = vec4<f32>(0.0);
  var ob1 = vec4<f32>(0.0);
  var ob2 = vec4<f32>(0.0);
  var ob3 = vec4<f32>(0.0);
  var m = vec4<f32>(MASKED); // running row maxima, log2 domain
  var l = vec4<f32>(0.0);
  let c2 = p.scale * LOG2E;
  let nkt = min((q0 + BR - 1u) / BC + 1u, (T + BC - 1u) / BC);
  for (var kt = 0u; kt < nkt; kt++) {
    let k0 = kt * BC;
    workgroupBarrier(); // v rows and P of the previous tile are no longer read
    for (var e = tid; e < BC * HS4; e += TX * TY) {
      let row = e / HS4;
      var x = vec4<f32>(0.0);
      var y = vec4<f32>(0.0);
      if (k0 + row < T) {
        let base = ((b * T + k0 + row) * p.KVH + kh) * HS;
        x = k4(base, e % HS4);
        y = v4(base, e % HS4);
      }
      Ac[row * RS + e % HS4] = x;
      Bc[row * RS + e % HS4] = y;
    }
    workgroupBarrier();
    var s0 = vec4<f32>(0.0); // scores of column tx + TX·j against the 4 rows
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var d = 0u; d < HS4; d++) {
      let a0 = Ar[ty * RS + d];
      let a1 = Ar[(ty + TY) * RS + d];
      let a2 = Ar[(ty + 2u * TY) * RS + d];
      let a3 = Ar[(ty + 3u * TY) * RS + d];
      s0 += dot4(a0, a1, a2, a3, Ac[tx * RS + d]);
      s1 += dot4(a0, a1, a2, a3, Ac[(tx + TX) * RS + d]);
      s2 += dot4(a0, a1, a2, a3, Ac[(tx + 2u * TX) * RS + d]);
      s3 += dot4(a0, a1, a2, a3, Ac[(tx + 3u * TX) * RS + d]);
    }
    let k = k0 + tx;
    let m0 = vec4<u32>(k) > qi;
    let m1 = vec4<u32>(k + TX) > qi;
    let m2 = vec4<u32>(k + 2u * TX) > qi;
    let m3 = vec4<u32>(k + 3u * TX) > qi;
    s0 = select(s0 * c2, vec4(MASKED), m0);
    s1 = select(s1 * c2, vec4(MASKED), m1);
    s2 = select(s2 * c2, vec4(MASKED), m2);
    s3 = select(s3 * c2, vec4(MASKED), m3);
    M4[tx * TY + ty] = max(max(s0, s1), max(s2, s3));
    workgroupBarrier();
    var mt = m;
    for (var t = 0u; t < TX; t++) { mt = max(mt, M4[t * TY + ty]); }
    P4[tx * TY + ty] = select(exp2(s0 - mt), vec4(0.0), m0);
    P4[(tx + TX) * TY + ty] = select(exp2(s1 - mt), vec4(0.0), m1);
    P4[(tx + 2u * TX) * TY + ty] = select(exp2(s2 - mt), vec4(0.0), m2);
    P4[(tx + 3u * TX) * TY + ty] = select(exp2(s3 - mt), vec4(0.0), m3);
    workgroupBarrier();
    let alpha = exp2(m - mt);
    m = mt;
    l *= alpha;
    oa0 *= alpha.x;
    oa1 *= alpha.y;
    oa2 *= alpha.z;
    oa3 *= alpha.w;
    ob0 *= alpha.x;
    ob1 *= alpha.y;
    ob2 *= alpha.z;
    ob3 *= alpha.w;
    for (var j = 0u; j < BC; j++) {
      let pj = P4[j * TY + ty];
      l += pj;
      let va = Bc[j * RS + da];
      let vb = Bc[j * RS + db];
      oa0 = fma(vec4(pj.x), va, oa0);
      oa1 = fma(vec4(pj.y), va, oa1);
      oa2 = fma(vec4(pj.z), va, oa2);
      oa3 = fma(vec4(pj.w), va, oa3);
      ob0 = fma(vec4(pj.x), vb, ob0);
      ob1 = fma(vec4(pj.y), vb, ob1);
      ob2 = fma(vec4(pj.z), vb, ob2);
      ob3 = fma(vec4(pj.w), vb, ob3);
    }
  }
  let lse4 = (m + log2(l)) * LN2;
  let inv = 1.0 / l;
  store_out_row(b, qi.x, h, tx, oa0 * inv.x, ob0 * inv.x, lse4.x);
  store_out_row(b, qi.y, h, tx, oa1 * inv.y, ob1 * inv.y, lse4.y);
  store_out_row(b, qi.z, h, tx, oa2 * inv.z, ob2 * inv.z, lse4.z);
  store_out_row(b, qi.w, h, tx, oa3 * inv.w, ob3 * inv.w, lse4.w);
}

// Writes chunks tx and tx + TX of out row (b, i, h), and its lse from thread column 0.
fn store_out_row(b: u32, i: u32, h: u32, tx: u32, xa: vec4<f32>, xb: vec4<f32>, lse_i: f32) {
  if (i >= p.T) { return; }
  let base = ((b * p.T + i) * p.NH + h) * HS;
  for (var e = 0u; e < 4u && 4u * tx + e < HS; e++) { out[base + 4u * tx + e] = xa[e]; }
  for (var e = 0u; e < 4u && 4u * (tx + TX) + e < HS; e++) { out[base + 4u * (tx + TX) + e] = xb[e]; }
  if (tx == 0u) { lse_out[(b * p.NH + h) * p.T + i] = lse_i; }
}

// Writes chunks tx and tx + TX of a (B,T,KVH,HS) row into dk and dv.
fn store_kv_row(b: u32, j: u32, kh: u32, tx: u32, ka: vec4<f32>, kb: vec4<f32>, va: vec4<f32>, vb: vec4<f32>) {
  if (j >= p.T) { return; }
  let base = ((b * p.T + j) * p.KVH + kh) * HS;
  for (var e = 0u; e < 4u && 4u * tx + e < HS; e++) {
    dk[base + 4u * tx + e] = ka[e];
    dv[base + 4u * tx + e] = va[e];
  }
  for (var e = 0u; e < 4u && 4u * (tx + TX) + e < HS; e++) {
    dk[base + 4u * (tx + TX) + e] = kb[e];
    dv[base + 4u * (tx + TX) + e] = vb[e];
  }
}

// Writes chunks tx and tx + TX of dq row (b, i, h).
fn store_dq_row(b: u32, i: u32, h: u32, tx: u32, xa: vec4<f32>, xb: vec4<f32>) {
  if (i >= p.T) { return; }
  let base = ((b * p.T + i) * p.NH + h) * HS;
  for (var e = 0u; e < 4u && 4u * tx + e < HS; e++) { dq[base + 4u * tx + e] = xa[e]; }
  for (var e = 0u; e < 4u && 4u * (tx + TX) + e < HS; e++) { dq[base + 4u * (tx + TX) + e] = xb[e]; }
}

@compute @workgroup_size(TX, TY)
fn backward_kv_blocked(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let wid = tile_of(wg, false);
  let T = p.T;
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * TX + tx;
  let kh = wid.y;
  let b = wid.z;
  let k0 = wid.x * BR;
  for (var e = tid; e < BR * HS4; e += TX * TY) {
    let row = e / HS4;
    var x = vec4<f32>(0.0);
    var y = vec4<f32>(0.0);
    if (k0 + row < T) {
      let base = ((b * T + k0 + row) * p.KVH + kh) * HS;
      x = k4(base, e % HS4);
      y = v4(base, e % HS4);
    }
    Ar[row * RS + e % HS4] = x;
    Br[row * RS + e % HS4] = y;
  }
  let ki = vec4<u32>(k0 + ty) + vec4<u32>(0u, TY, 2u * TY, 3u * TY); // this thread's keys
  let da = min(tx, RS - 1u);
  let db = min(tx + TX, RS - 1u);
  var ka0 = vec4<f32>(0.0); // dk chunks da / db of the 4 keys
  var ka1 = vec4<f32>(0.0);
  var ka2 = vec4<f32>(0.0);
  var ka3 = vec4<f32>(0.0);
  var kb0 = vec4<f32>(0.0);
  var kb1 = vec4<f32>(0.0);
  var kb2 = vec4<f32>(0.0);
  var kb3 = vec4<f32>(0.0);
  var va0 = vec4<f32>(0.0); // dv chunks
  var va1 = vec4<f32>(0.0);
  var va2 = vec4<f32>(0.0);
  var va3 = vec4<f32>(0.0);
  var vb0 = vec4<f32>(0.0);
  var vb1 = vec4<f32>(0.0);
  var vb2 = vec4<f32>(0.0);
  var vb3 = vec4<f32>(0.0);
  let c2 = p.scale * LOG2E;
  let nqt = (T + BC - 1u) / BC;
  for (var hh = 0u; hh < p.group; hh++) {
    let h = kh * p.group + hh;
    for (var qt = k0 / BC; qt < nqt; qt++) {
      let q0 = qt * BC;
      workgroupBarrier(); // the previous query tile is no longer read
      for (var e = tid; e < BC * HS4; e += TX * TY) {
        let row = e / HS4;
        var x = vec4<f32>(0.0);
        var y = vec4<f32>(0.0);
        if (q0 + row < T) {
          let base = ((b * T + q0 + row) * p.NH + h) * HS;
          x = q4(base, e % HS4);
          y = dout4(base, e % HS4);
        }
        Ac[row * RS + e % HS4] = x;
        Bc[row * RS + e % HS4] = y;
      }
      for (var e = tid; e < BC; e += TX * TY) {
        var lq = 0.0;
        var dq_ = 0.0;
        if (q0 + e < T) {
          lq = lse[(b * p.NH + h) * T + q0 + e] * LOG2E;
          dq_ = delta[(b * p.NH + h) * T + q0 + e];
        }
        Lc[e] = lq;
        Dc[e] = dq_;
      }
      workgroupBarrier();
      var s0 = vec4<f32>(0.0); // q_j · k_i for column j, rows i in xyzw
      var s1 = vec4<f32>(0.0);
      var s2 = vec4<f32>(0.0);
      var s3 = vec4<f32>(0.0);
      var g0 = vec4<f32>(0.0); // dout_j · v_i
      var g1 = vec4<f32>(0.0);
      var g2 = vec4<f32>(0.0);
      var g3 = vec4<f32>(0.0);
      for (var d = 0u; d < HS4; d++) {
        let a0 = Ar[ty * RS + d];
        let a1 = Ar[(ty + TY) * RS + d];
        let a2 = Ar[(ty + 2u * TY) * RS + d];
        let a3 = Ar[(ty + 3u * TY) * RS + d];
        s0 += dot4(a0, a1, a2, a3, Ac[tx * RS + d]);
        s1 += dot4(a0, a1, a2, a3, Ac[(tx + TX) * RS + d]);
        s2 += dot4(a0, a1, a2, a3, Ac[(tx + 2u * TX) * RS + d]);
        s3 += dot4(a0, a1, a2, a3, Ac[(tx + 3u * TX) * RS + d]);
        let b0 = Br[ty * RS + d];
        let b1 = Br[(ty + TY) * RS + d];
        let b2 = Br[(ty + 2u * TY) * RS + d];
        let b3 = Br[(ty + 3u * TY) * RS + d];
        g0 += dot4(b0, b1, b2, b3, Bc[tx * RS + d]);
        g1 += dot4(b0, b1, b2, b3, Bc[(tx + TX) * RS + d]);
        g2 += dot4(b0, b1, b2, b3, Bc[(tx + 2u * TX) * RS + d]);
        g3 += dot4(b0, b1, b2, b3, Bc[(tx + 3u * TX) * RS + d]);
      }
      let q = q0 + tx;
      let j1 = tx + TX;
      let j2 = tx + 2u * TX;
      let j3 = tx + 3u * TX;
      // Valid: key ≤ query < T.
      let v0 = (ki <= vec4<u32>(q)) & vec4<bool>(q < T);
      let v1 = (ki <= vec4<u32>(q0 + j1)) & vec4<bool>(q0 + j1 < T);
      let v2 = (ki <= vec4<u32>(q0 + j2)) & vec4<bool>(q0 + j2 < T);
      let v3 = (ki <= vec4<u32>(q0 + j3)) & vec4<bool>(q0 + j3 < T);
      let p0 = select(vec4(0.0), exp2(s0 * c2 - Lc[tx]), v0);
      let p1 = select(vec4(0.0), exp2(s1 * c2 - Lc[j1]), v1);
      let p2 = select(vec4(0.0), exp2(s2 * c2 - Lc[j2]), v2);
      let p3 = select(vec4(0.0), exp2(s3 * c2 - Lc[j3]), v3);
      // P and then dS pass through the one P4 buffer: that fits TY = 16 into 48 KiB.
      P4[tx * TY + ty] = p0;
      P4[j1 * TY + ty] = p1;
      P4[j2 * TY + ty] = p2;
      P4[j3 * TY + ty] = p3;
      workgroupBarrier();
      for (var j = 0u; j < BC; j++) {
        let pj = P4[j * TY + ty];
        let oa = Bc[j * RS + da];
        let ob = Bc[j * RS + db];
        va0 = fma(vec4(pj.x), oa, va0);
        va1 = fma(vec4(pj.y), oa, va1);
        va2 = fma(vec4(pj.z), oa, va2);
        va3 = fma(vec4(pj.w), oa, va3);
        vb0 = fma(vec4(pj.x), ob, vb0);
        vb1 = fma(vec4(pj.y), ob, vb1);
        vb2 = fma(vec4(pj.z), ob, vb2);
        vb3 = fma(vec4(pj.w), ob, vb3);
      }
      workgroupBarrier();
      P4[tx * TY + ty] = p0 * (g0 - Dc[tx]);
      P4[j1 * TY + ty] = p1 * (g1 - Dc[j1]);
      P4[j2 * TY + ty] = p2 * (g2 - Dc[j2]);
      P4[j3 * TY + ty] = p3 * (g3 - Dc[j3]);
      workgroupBarrier();
      for (var j = 0u; j < BC; j++) {
        let dj = P4[j * TY + ty];
        let qa = Ac[j * RS + da];
        let qb = Ac[j * RS + db];
        ka0 = fma(vec4(dj.x), qa, ka0);
        ka1 = fma(vec4(dj.y), qa, ka1);
        ka2 = fma(vec4(dj.z), qa, ka2);
        ka3 = fma(vec4(dj.w), qa, ka3);
        kb0 = fma(vec4(dj.x), qb, kb0);
        kb1 = fma(vec4(dj.y), qb, kb1);
        kb2 = fma(vec4(dj.z), qb, kb2);
        kb3 = fma(vec4(dj.w), qb, kb3);
      }
    }
  }
  let sc = p.scale;
  store_kv_row(b, ki.x, kh, tx, ka0 * sc, kb0 * sc, va0, vb0);
  store_kv_row(b, ki.y, kh, tx, ka1 * sc, kb1 * sc, va1, vb1);
  store_kv_row(b, ki.z, kh, tx, ka2 * sc, kb2 * sc, va2, vb2);
  store_kv_row(b, ki.w, kh, tx, ka3 * sc, kb3 * sc, va3, vb3);
}

// lse of row i in the log2 domain (0 past T), for backward_q_blocked.
fn row_lse2(row0: u32, i: u32) -> f32 {
  if (i >= p.T) { return 0.0; }
  return lse[row0 + i] * LOG2E;
}

fn row_delta(row0: u32, i: u32) -> f32 {
  if (i >= p.T) { return 0.0; }
  return delta[row0 + i];
}

@compute @workgroup_size(TX, TY)
fn backward_q_blocked(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let wid = tile_of(wg, true);
  let T = p.T;
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * TX + tx;
  let h = wid.y;
  let b = wid.z;
  let kh = h / p.group;
  let q0 = wid.x * BR;
  for (var e = tid; e < BR * HS4; e += TX * TY) {
    let row = e / HS4;
    var x = vec4<f32>(0.0);
    var y = vec4<f32>(0.0);
    if (q0 + row < T) {
      let base = ((b * T + q0 + row) * p.NH + h) * HS;
      x = q4(base, e % HS4);
      y = dout4(base, e % HS4);
    }
    Ar[row * RS + e % HS4] = x;
    Br[row * RS + e % HS4] = y;
  }
  let qi = vec4<u32>(q0 + ty) + vec4<u32>(0u, TY, 2u * TY, 3u * TY); // this thread's queries
  let row0 = (b * p.NH + h) * T;
  let lse4 = vec4(row_lse2(row0, qi.x), row_lse2(row0, qi.y), row_lse2(row0, qi.z), row_lse2(row0, qi.w));
  let del4 = vec4(row_delta(row0, qi.x), row_delta(row0, qi.y), row_delta(row0, qi.z), row_delta(row0, qi.w));
  let da = min(tx, RS - 1u);
  let db = min(tx + TX, RS - 1u);
  var qa0 = vec4<f32>(0.0); // dq chunks da / db of the 4 queries
  var qa1 = vec4<f32>(0.0);
  var qa2 = vec4<f32>(0.0);
  var qa3 = vec4<f32>(0.0);
  var qb0 = vec4<f32>(0.0);
  var qb1 = vec4<f32>(0.0);
  var qb2 = vec4<f32>(0.0);
  var qb3 = vec4<f32>(0.0);
  let c2 = p.scale * LOG2E;
  let nkt = min((q0 + BR - 1u) / BC + 1u, (T + BC - 1u) / BC);
  for (var kt = 0u; kt < nkt; kt++) {
    let k0 = kt * BC;
    workgroupBarrier(); // the previous key tile and dS are no longer read
    for (var e = tid; e < BC * HS4; e += TX * TY) {
      let row = e / HS4;
      var x = vec4<f32>(0.0);
      var y = vec4<f32>(0.0);
      if (k0 + row < T) {
        let base = ((b * T + k0 + row) * p.KVH + kh) * HS;
        x = k4(base, e % HS4);
        y = v4(base, e % HS4);
      }
      Ac[row * RS + e % HS4] = x;
      Bc[row * RS + e % HS4] = y;
    }
    workgroupBarrier();
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    var g0 = vec4<f32>(0.0);
    var g1 = vec4<f32>(0.0);
    var g2 = vec4<f32>(0.0);
    var g3 = vec4<f32>(0.0);
    for (var d = 0u; d < HS4; d++) {
      let a0 = Ar[ty * RS + d];
      let a1 = Ar[(ty + TY) * RS + d];
      let a2 = Ar[(ty + 2u * TY) * RS + d];
      let a3 = Ar[(ty + 3u * TY) * RS + d];
      s0 += dot4(a0, a1, a2, a3, Ac[tx * RS + d]);
      s1 += dot4(a0, a1, a2, a3, Ac[(tx + TX) * RS + d]);
      s2 += dot4(a0, a1, a2, a3, Ac[(tx + 2u * TX) * RS + d]);
      s3 += dot4(a0, a1, a2, a3, Ac[(tx + 3u * TX) * RS + d]);
      let b0 = Br[ty * RS + d];
      let b1 = Br[(ty + TY) * RS + d];
      let b2 = Br[(ty + 2u * TY) * RS + d];
      let b3 = Br[(ty + 3u * TY) * RS + d];
      g0 += dot4(b0, b1, b2, b3, Bc[tx * RS + d]);
      g1 += dot4(b0, b1, b2, b3, Bc[(tx + TX) * RS + d]);
      g2 += dot4(b0, b1, b2, b3, Bc[(tx + 2u * TX) * RS + d]);
      g3 += dot4(b0, b1, b2, b3, Bc[(tx + 3u * TX) * RS + d]);
    }
    let k = k0 + tx;
    let live = qi < vec4<u32>(T);
    let v0 = (vec4<u32>(k) <= qi) & live;
    let v1 = (vec4<u32>(k + TX) <= qi) & live;
    let v2 = (vec4<u32>(k + 2u * TX) <= qi) & live;
    let v3 = (vec4<u32>(k + 3u * TX) <= qi) & live;
    P4[tx * TY + ty] = select(vec4(0.0), exp2(s0 * c2 - lse4) * (g0 - del4), v0);
    P4[(tx + TX) * TY + ty] = select(vec4(0.0), exp2(s1 * c2 - lse4) * (g1 - del4), v1);
    P4[(tx + 2u * TX) * TY + ty] = select(vec4(0.0), exp2(s2 * c2 - lse4) * (g2 - del4), v2);
    P4[(tx + 3u * TX) * TY + ty] = select(vec4(0.0), exp2(s3 * c2 - lse4) * (g3 - del4), v3);
    workgroupBarrier();
    for (var j = 0u; j < BC; j++) {
      let dj = P4[j * TY + ty];
      let ka = Ac[j * RS + da];
      let kb = Ac[j * RS + db];
      qa0 = fma(vec4(dj.x), ka, qa0);
      qa1 = fma(vec4(dj.y), ka, qa1);
      qa2 = fma(vec4(dj.z), ka, qa2);
      qa3 = fma(vec4(dj.w), ka, qa3);
      qb0 = fma(vec4(dj.x), kb, qb0);
      qb1 = fma(vec4(dj.y), kb, qb1);
      qb2 = fma(vec4(dj.z), kb, qb2);
      qb3 = fma(vec4(dj.w), kb, qb3);
    }
  }
  let sc = p.scale;
  store_dq_row(b, qi.x, h, tx, qa0 * sc, qb0 * sc);
  store_dq_row(b, qi.y, h, tx, qa1 * sc, qb1 * sc);
  store_dq_row(b, qi.z, h, tx, qa2 * sc, qb2 * sc);
  store_dq_row(b, qi.w, h, tx, qa3 * sc, qb3 * sc);
}
