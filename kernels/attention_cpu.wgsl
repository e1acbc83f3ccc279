// Fused causal attention for a CPU adapter (lavapipe), same contract as kernels/attention.wgsl: forward keeping the
// log-sum-exp, backward (dq, and dk/dv summed over the query heads of each kv group) rebuilding
// P = exp(q·k·scale − lse), deterministic. src/kernels/attention.ts prepends attention_common.wgsl (Params, bindings,
// chunk loaders, backward_delta) and the row access (load_q … store_dkv) of attention_cpu_vec4.wgsl (HS % 4 == 0)
// or attention_cpu_scalar.wgsl (any HS). Not used on a real GPU, where a row is too little work for one thread.
//
// On a CPU a workgroup runs on one core with its invocations as SIMD lanes, and every barrier or workgroup-memory
// access costs far more than arithmetic, so there are none: one invocation per query row (forward, backward_q) or
// key row (backward_kv) keeps that row's operands and accumulators in function arrays, and a workgroup is WG
// consecutive rows of one (batch, head). The other side (keys, or queries) is streamed in steps of 4 rows whose
// index depends only on the workgroup, so the loop bound is uniform and the causal mask is a select, never a branch.
// Steps of 4 rows also give 8 independent dot products per step, and let the forward's online softmax rescale its
// accumulators once per 4 keys instead of once per key. Storage loads dominate on lavapipe (Mesa 22 performs each
// lane by lane). The function arrays cost about 15% against named vec4 registers at HS = 16 and 1–3 s per pipeline
// build (Mesa lowers indexed arrays to if-ladders; its disk cache keeps the result). Owning 4 rows per invocation,
// transposed into vec4s, would share each load between them but needs arrays of HS vec4s: slower on lavapipe, and
// about a minute to build the pipelines of one head size.
override WG: u32 = 8u; // invocations (rows) per workgroup
const MAX_HS4: u32 = 32u; // vec4 chunks of the longest head (HS = 128)
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;
const STEP = vec4<u32>(0u, 1u, 2u, 3u);

// Grid: (ceil(T/WG), NH, B). Lane i0 + x computes query row i0 + x of head wg.y, batch wg.z.
@compute @workgroup_size(WG)
fn forward_cpu(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let T = p.T;
  let i0 = wg.x * WG;
  let h = wg.y;
  let b = wg.z;
  let kh = h / p.group;
  let i = i0 + lid.x; // this lane's query; lanes past T compute row T − 1 and store nothing
  let row = ((b * T + min(i, T - 1u)) * p.NH + h) * HS;
  let c2 = p.scale * LOG2E; // scores in the log2 domain
  var qr = array<vec4<f32>, MAX_HS4>(); // (HS4) q·c2
  var o = array<vec4<f32>, MAX_HS4>(); // (HS4) Σ_j 2^(s_j − m)·v_j
  for (var c = 0u; c < HS4; c++) { qr[c] = load_q(row, c) * c2; }
  var m = MASKED; // running max of the scores (log2 domain); key 0 is in every lane's first step
  var l = 0.0; // running Σ_j 2^(s_j − m)
  let kstride = p.KVH * HS;
  let n = min(i0 + WG, T); // keys any lane of the workgroup sees
  for (var j0 = 0u; j0 < n; j0 += 4u) {
    let js = vec4<u32>(j0) + STEP;
    let jc = min(js, vec4<u32>(T - 1u)); // loaded (masked below when past T)
    let base = vec4<u32>((b * T) * kstride + kh * HS) + jc * kstride;
    var s = vec4<f32>(0.0);
    for (var c = 0u; c < HS4; c++) {
      let x = qr[c];
      s += vec4(
        dot(x, load_k(base.x, c)),
        dot(x, load_k(base.y, c)),
        dot(x, load_k(base.z, c)),
        dot(x, load_k(base.w, c)),
      );
    }
    s = select(s, vec4(MASKED), js > vec4<u32>(i));
    let mt = max(m, max(max(s.x, s.y), max(s.z, s.w)));
    let alpha = exp2(m - mt);
    let pr = exp2(s - mt); // 0 where masked
    m = mt;
    l = fma(l, alpha, pr.x + pr.y + pr.z + pr.w);
    for (var c = 0u; c < HS4; c++) {
      var x = o[c] * alpha;
      x = fma(vec4(pr.x), load_v(base.x, c), x);
      x = fma(vec4(pr.y), load_v(base.y, c), x);
      x = fma(vec4(pr.z), load_v(base.z, c), x);
      o[c] = fma(vec4(pr.w), load_v(base.w, c), x);
    }
  }
  if (i >= T) { return; }
  let inv = 1.0 / l;
  for (var c = 0u; c < HS4; c++) { store_out(row, c, o[c] * inv); }
  lse_out[(b * p.NH + h) * T + i] = (m + log2(l)) * LN2;
}

// Grid: (ceil(T/WG), KVH, B). Lane j0 + x computes dk and dv of key row j0 + x of kv head wg.y, batch wg.z, walking
// the queries j0 … T − 1 of every query head of its group (those before its own key are masked).
@compute @workgroup_size(WG)
fn backward_kv_cpu(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let T = p.T;
  let j0 = wg.x * WG;
  let kh = wg.y;
  let b = wg.z;
  let j = j0 + lid.x; // this lane's key; lanes past T compute row T − 1 and store nothing
  let row = ((b * T + min(j, T - 1u)) * p.KVH + kh) * HS;
  let c2 = p.scale * LOG2E;
  var kr = array<vec4<f32>, MAX_HS4>(); // (HS4) k·c2
  var vr = array<vec4<f32>, MAX_HS4>(); // (HS4) v
  var dkr = array<vec4<f32>, MAX_HS4>(); // (HS4) Σ dS·q
  var dvr = array<vec4<f32>, MAX_HS4>(); // (HS4) Σ P·dout
  for (var c = 0u; c < HS4; c++) {
    kr[c] = load_k(row, c) * c2;
    vr[c] = load_v(row, c);
  }
  let qstride = p.NH * HS;
  for (var hh = 0u; hh < p.group; hh++) {
    let h = kh * p.group + hh;
    let lrow = (b * p.NH + h) * T; // lse and delta of this head
    for (var i0 = j0; i0 < T; i0 += 4u) {
      let is = vec4<u32>(i0) + STEP;
      let ic = min(is, vec4<u32>(T - 1u));
      let base = vec4<u32>((b * T) * qstride + h * HS) + ic * qstride;
      var s = vec4<f32>(0.0);
      var dp = vec4<f32>(0.0);
      for (var c = 0u; c < HS4; c++) {
        let x = kr[c];
        let y = vr[c];
        s += vec4(
          dot(x, load_q(base.x, c)),
          dot(x, load_q(base.y, c)),
          dot(x, load_q(base.z, c)),
          dot(x, load_q(base.w, c)),
        );
        dp += vec4(
          dot(y, load_dout(base.x, c)),
          dot(y, load_dout(base.y, c)),
          dot(y, load_dout(base.z, c)),
          dot(y, load_dout(base.w, c)),
        );
      }
      let lse2 = vec4(lse[lrow + ic.x], lse[lrow + ic.y], lse[lrow + ic.z], lse[lrow + ic.w]) * LOG2E;
      let del = vec4(delta[lrow + ic.x], delta[lrow + ic.y], delta[lrow + ic.z], delta[lrow + ic.w]);
      let live = (is >= vec4<u32>(j)) & (is < vec4<u32>(T));
      let pr = select(vec4(0.0), exp2(s - lse2), live);
      let ds = pr * (dp - del);
      for (var c = 0u; c < HS4; c++) {
        var x = dvr[c];
        x = fma(vec4(pr.x), load_dout(base.x, c), x);
        x = fma(vec4(pr.y), load_dout(base.y, c), x);
        x = fma(vec4(pr.z), load_dout(base.z, c), x);
        dvr[c] = fma(vec4(pr.w), load_dout(base.w, c), x);
        var y = dkr[c];
        y = fma(vec4(ds.x), load_q(base.x, c), y);
        y = fma(vec4(ds.y), load_q(base.y, c), y);
        y = fma(vec4(ds.z), load_q(base.z, c), y);
        dkr[c] = fma(vec4(ds.w), load_q(base.w, c), y);
      }
    }
  }
  if (j >= T) { return; }
  for (var c = 0u; c < HS4; c++) { store_dkv(row, c, dkr[c] * p.scale, dvr[c]); }
}

// Grid: (ceil(T/WG), NH, B). Lane i0 + x computes dq of query row i0 + x of head wg.y, batch wg.z.
@compute @workgroup_size(WG)
fn backward_q_cpu(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let T = p.T;
  let i0 = wg.x * WG;
  let h = wg.y;
  let b = wg.z;
  let kh = h / p.group;
  let i = i0 + lid.x; // this lane's query; lanes past T compute row T − 1 and store nothing
  let ic = min(i, T - 1u);
  let row = ((b * T + ic) * p.NH + h) * HS;
  let c2 = p.scale * LOG2E;
  var qr = array<vec4<f32>, MAX_HS4>(); // (HS4) q·c2
  var gr = array<vec4<f32>, MAX_HS4>(); // (HS4) dout
  var dqr = array<vec4<f32>, MAX_HS4>(); // (HS4) Σ_j dS_j·k_j
  for (var c = 0u; c < HS4; c++) {
    qr[c] = load_q(row, c) * c2;
    gr[c] = load_dout(row, c);
  }
  let lse2 = lse[(b * p.NH + h) * T + ic] * LOG2E;
  let del = delta[(b * p.NH + h) * T + ic];
  let kstride = p.KVH * HS;
  let n = min(i0 + WG, T);
  for (var j0 = 0u; j0 < n; j0 += 4u) {
    let js = vec4<u32>(j0) + STEP;
    let jc = min(js, vec4<u32>(T - 1u));
    let base = vec4<u32>((b * T) * kstride + kh * HS) + jc * kstride;
    var s = vec4<f32>(0.0);
    var dp = vec4<f32>(0.0);
    for (var c = 0u; c < HS4; c++) {
      let x = qr[c];
      let y = gr[c];
      s += vec4(
        dot(x, load_k(base.x, c)),
        dot(x, load_k(base.y, c)),
        dot(x, load_k(base.z, c)),
        dot(x, load_k(base.w, c)),
      );
      dp += vec4(
        dot(y, load_v(base.x, c)),
        dot(y, load_v(base.y, c)),
        dot(y, load_v(base.z, c)),
        dot(y, load_v(base.w, c)),
      );
    }
    let ds = select(exp2(s - lse2) * (dp - del), vec4(0.0), js > vec4<u32>(i));
    for (var c = 0u; c < HS4; c++) {
      var x = dqr[c];
      x = fma(vec4(ds.x), load_k(base.x, c), x);
      x = fma(vec4(ds.y), load_k(base.y, c), x);
      x = fma(vec4(ds.z), load_k(base.z, c), x);
      dqr[c] = fma(vec4(ds.w), load_k(base.w, c), x);
    }
  }
  if (i >= T) { return; }
  for (var c = 0u; c < HS4; c++) { store_dq(row, c, dqr[c] * p.scale); }
}
