// Fused causal attention, row kernels (the fallback; src/kernels/attention.ts prepends attention_common.wgsl for
// Params, the bindings and the chunk loaders). They need the least workgroup memory and serve the head sizes the
// register-blocked kernels of attention.wgsl cannot fit (HS > 64 at 48 KiB). Same contract as those: forward keeps
// the log-sum-exp; backward_kv walks the query tiles of every head of its kv group accumulating dk and dv,
// backward_q walks the key tiles accumulating dq; both rebuild P = exp(q·k·scale − lse).
//
// Each workgroup owns TILE rows (queries, or keys in backward_kv) with TPR threads per row: a thread keeps its
// row's output as HS/4/TPR vec4 chunks (c, c+TPR, …) and scores TILE/TPR columns (c, c+TPR, …) per tile.
override TILE: u32 = 32u; // rows per workgroup = columns per streamed tile
override TPR: u32 = 4u; // threads per row
override SROW: u32 = TILE + 1u; // row stride of the score tile
override CH: u32 = (HS4 + TPR - 1u) / TPR; // chunks per thread ≤ MAX_CH
override KPT: u32 = TILE / TPR; // columns per thread ≤ MAX_KPT
const MAX_CH: u32 = 4u;
const MAX_KPT: u32 = 8u;

var<workgroup> Qs: array<vec4<f32>, TILE * RS>; // (TILE, HS4) q rows of the query tile
var<workgroup> Ks: array<vec4<f32>, TILE * RS>; // (TILE, HS4) k rows (forward: k, then v)
var<workgroup> Vs: array<vec4<f32>, TILE * RS>; // (TILE, HS4) v rows (backward)
var<workgroup> Os: array<vec4<f32>, TILE * RS>; // (TILE, HS4) dout rows of the query tile (backward)
var<workgroup> Ss: array<f32, TILE * SROW>; // (TILE, TILE) scores, then probabilities (backward_kv: P)
var<workgroup> Ds: array<f32, TILE * SROW>; // (TILE, TILE) dS (backward_kv)

@compute @workgroup_size(TILE * TPR)
fn forward(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = p.T;
  let qt = wid.x;
  let h = wid.y;
  let b = wid.z;
  let kh = h / p.group;
  let q0 = qt * TILE;
  let r = tid / TPR;
  let c = tid % TPR;
  let i = q0 + r; // this thread's query
  for (var e = tid; e < TILE * HS4; e += TILE * TPR) {
    let row = e / HS4;
    var x = vec4<f32>(0.0);
    if (q0 + row < T) { x = q4(((b * T + q0 + row) * p.NH + h) * HS, e % HS4); }
    Qs[row * RS + e % HS4] = x;
  }
  var acc: array<vec4<f32>, MAX_CH>; // (CH) chunks of Σ_j exp(s_j − m)·v_j
  var m = MASKED; // running row max of the scaled scores
  var l = 0.0; // running Σ_j exp(s_j − m)
  for (var kt = 0u; kt <= qt; kt++) {
    let k0 = kt * TILE;
    workgroupBarrier(); // the previous tile's v rows are no longer read
    for (var e = tid; e < TILE * HS4; e += TILE * TPR) {
      let row = e / HS4;
      var x = vec4<f32>(0.0);
      if (k0 + row < T) { x = k4(((b * T + k0 + row) * p.KVH + kh) * HS, e % HS4); }
      Ks[row * RS + e % HS4] = x;
    }
    workgroupBarrier();
    var s = array<f32, MAX_KPT>();
    for (var d = 0u; d < HS4; d++) {
      let qv = Qs[r * RS + d];
      for (var u = 0u; u < KPT; u++) { s[u] += dot(qv, Ks[(c + u * TPR) * RS + d]); }
    }
    for (var u = 0u; u < KPT; u++) {
      let j = c + u * TPR;
      s[u] = select(s[u] * p.scale, MASKED, k0 + j > i);
      Ss[r * SROW + j] = s[u];
    }
    workgroupBarrier();
    var mt = m;
    for (var j = 0u; j < TILE; j++) { mt = max(mt, Ss[r * SROW + j]); }
    workgroupBarrier(); // every row max is taken before scores turn into probabilities and k into v
    for (var u = 0u; u < KPT; u++) {
      let j = c + u * TPR;
      Ss[r * SROW + j] = select(exp(s[u] - mt), 0.0, k0 + j > i);
    }
    for (var e = tid; e < TILE * HS4; e += TILE * TPR) {
      let row = e / HS4;
      var x = vec4<f32>(0.0);
      if (k0 + row < T) { x = v4(((b * T + k0 + row) * p.KVH + kh) * HS, e % HS4); }
      Ks[row * RS + e % HS4] = x;
    }
    workgroupBarrier();
    let alpha = exp(m - mt);
    m = mt;
    l *= alpha;
    for (var ch = 0u; ch < CH; ch++) { acc[ch] *= alpha; }
    for (var j = 0u; j < TILE; j++) {
      let pj = Ss[r * SROW + j];
      l += pj;
      for (var ch = 0u; ch < CH; ch++) {
        let d = c + ch * TPR;
        if (d < HS4) { acc[ch] = fma(vec4(pj), Ks[j * RS + d], acc[ch]); }
      }
    }
  }
  if (i < T) {
    let base = ((b * T + i) * p.NH + h) * HS;
    for (var ch = 0u; ch < CH; ch++) {
      let d = c + ch * TPR;
      if (d < HS4) {
        let x = acc[ch] / l;
        for (var e = 0u; e < 4u && 4u * d + e < HS; e++) { out[base + 4u * d + e] = x[e]; }
      }
    }
    if (c == 0u) { lse_out[(b * p.NH + h) * T + i] = m + log(l); }
  }
}

@compute @workgroup_size(TILE * TPR)
fn backward_kv(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = p.T;
  let kt = wid.x;
  let kh = wid.y;
  let b = wid.z;
  let k0 = kt * TILE;
  let r = tid / TPR;
  let c = tid % TPR;
  let j = k0 + r; // this thread's key
  for (var e = tid; e < TILE * HS4; e += TILE * TPR) {
    let row = e / HS4;
    var kx = vec4<f32>(0.0);
    var vx = vec4<f32>(0.0);
    if (k0 + row < T) {
      let base = ((b * T + k0 + row) * p.KVH + kh) * HS;
      kx = k4(base, e % HS4);
      vx = v4(base, e % HS4);
    }
    Ks[row * RS + e % HS4] = kx;
    Vs[row * RS + e % HS4] = vx;
  }
  var dk_acc: array<vec4<f32>, MAX_CH>; // (CH) chunks of Σ dS·q
  var dv_acc: array<vec4<f32>, MAX_CH>; // (CH) chunks of Σ P·dout
  let nqt = (T + TILE - 1u) / TILE;
  for (var hh = 0u; hh < p.group; hh++) {
    let h = kh * p.group + hh;
    for (var qt = kt; qt < nqt; qt++) {
      let q0 = qt * TILE;
      workgroupBarrier(); // the previous query tile is no longer read
      for (var e = tid; e < TILE * HS4; e += TILE * TPR) {
        let row = e / HS4;
        var qx = vec4<f32>(0.0);
        var ox = vec4<f32>(0.0);
        if (q0 + row < T) {
          let base = ((b * T + q0 + row) * p.NH + h) * HS;
          qx = q4(base, e % HS4);
          ox = dout4(base, e % HS4);
        }
        Qs[row * RS + e % HS4] = qx;
        Os[row * RS + e % HS4] = ox;
      }
      workgroupBarrier();
      var s = array<f32, MAX_KPT>();
      var dp = array<f32, MAX_KPT>();
      for (var d = 0u; d < HS4; d++) {
        let kv = Ks[r * RS + d];
        let vv = Vs[r * RS + d];
        for (var u = 0u; u < KPT; u++) {
          let ii = c + u * TPR;
          s[u] += dot(kv, Qs[ii * RS + d]);
          dp[u] += dot(vv, Os[ii * RS + d]);
        }
      }
      for (var u = 0u; u < KPT; u++) {
        let ii = c + u * TPR;
        let i = q0 + ii;
        var pr = 0.0;
        var ds = 0.0;
        if (i < T && j <= i) {
          let at = (b * p.NH + h) * T + i;
          pr = exp(s[u] * p.scale - lse[at]);
          ds = pr * (dp[u] - delta[at]);
        }
        Ss[r * SROW + ii] = pr;
        Ds[r * SROW + ii] = ds;
      }
      workgroupBarrier();
      for (var ii = 0u; ii < TILE; ii++) {
        let pr = vec4(Ss[r * SROW + ii]);
        let ds = vec4(Ds[r * SROW + ii]);
        for (var ch = 0u; ch < CH; ch++) {
          let d = c + ch * TPR;
          if (d < HS4) {
            dv_acc[ch] = fma(pr, Os[ii * RS + d], dv_acc[ch]);
            dk_acc[ch] = fma(ds, Qs[ii * RS + d], dk_acc[ch]);
          }
        }
      }
    }
  }
  if (j < T) {
    let base = ((b * T + j) * p.KVH + kh) * HS;
    for (var ch = 0u; ch < CH; ch++) {
      let d = c + ch * TPR;
      if (d < HS4) {
        let x = dk_acc[ch] * p.scale;
        let y = dv_acc[ch];
        for (var e = 0u; e < 4u && 4u * d + e < HS; e++) {
          dk[base + 4u * d + e] = x[e];
          dv[base + 4u * d + e] = y[e];
        }
      }
    }
  }
}

@compute @workgroup_size(TILE * TPR)
fn backward_q(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = p.T;
  let qt = wid.x;
  let h = wid.y;
  let b = wid.z;
  let kh = h / p.group;
  let q0 = qt * TILE;
  let r = tid / TPR;
  let c = tid % TPR;
  let i = q0 + r; // this thread's query
  for (var e = tid; e < TILE * HS4; e += TILE * TPR) {
    let row = e / HS4;
    var qx = vec4<f32>(0.0);
    var ox = vec4<f32>(0.0);
    if (q0 + row < T) {
      let base = ((b * T + q0 + row) * p.NH + h) * HS;
      qx = q4(base, e % HS4);
      ox = dout4(base, e % HS4);
    }
    Qs[row * RS + e % HS4] = qx;
    Os[row * RS + e % HS4] = ox;
  }
  var lse_i = 0.0;
  var delta_i = 0.0;
  if (i < T) {
    lse_i = lse[(b * p.NH + h) * T + i];
    delta_i = delta[(b * p.NH + h) * T + i];
  }
  var acc: array<vec4<f32>, MAX_CH>; // (CH) chunks of Σ_j dS_j·k_j
  for (var kt = 0u; kt <= qt; kt++) {
    let k0 = kt * TILE;
    workgroupBarrier(); // the previous key tile is no longer read
    for (var e = tid; e < TILE * HS4; e += TILE * TPR) {
      let row = e / HS4;
      var kx = vec4<f32>(0.0);
      var vx = vec4<f32>(0.0);
      if (k0 + row < T) {
        let base = ((b * T + k0 + row) * p.KVH + kh) * HS;
        kx = k4(base, e % HS4);
        vx = v4(base, e % HS4);
      }
      Ks[row * RS + e % HS4] = kx;
      Vs[row * RS + e % HS4] = vx;
    }
    workgroupBarrier();
    var s = array<f32, MAX_KPT>();
    var dp = array<f32, MAX_KPT>();
    for (var d = 0u; d < HS4; d++) {
      let qv = Qs[r * RS + d];
      let ov = Os[r * RS + d];
      for (var u = 0u; u < KPT; u++) {
        let jj = c + u * TPR;
        s[u] += dot(qv, Ks[jj * RS + d]);
        dp[u] += dot(ov, Vs[jj * RS + d]);
      }
    }
    for (var u = 0u; u < KPT; u++) {
      let jj = c + u * TPR;
      var ds = 0.0;
      if (i < T && k0 + jj <= i) { ds = exp(s[u] * p.scale - lse_i) * (dp[u] - delta_i); }
      Ss[r * SROW + jj] = ds;
    }
    workgroupBarrier();
    for (var jj = 0u; jj < TILE; jj++) {
      let ds = vec4(Ss[r * SROW + jj]);
      for (var ch = 0u; ch < CH; ch++) {
        let d = c + ch * TPR;
        if (d < HS4) { acc[ch] = fma(ds, Ks[jj * RS + d], acc[ch]); }
      }
    }
  }
  if (i < T) {
    let base = ((b * T + i) * p.NH + h) * HS;
    for (var ch = 0u; ch < CH; ch++) {
      let d = c + ch * TPR;
      if (d < HS4) {
        let x = acc[ch] * p.scale;
        for (var e = 0u; e < 4u && 4u * d + e < HS; e++) { dq[base + 4u * d + e] = x[e]; }
      }
    }
  }
}
