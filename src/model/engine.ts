/**
 * The dense Llama-style model on the GPU: parameter/gradient/AdamW buffers laid out by the layout table, the
 * activations kept for backward, and forward → loss → backward recorded into a CommandBatch in data-flow order
 * (backward in exact reverse). MoE MLPs are src/model/moe.ts, called at the MLP sites. Under AMP the Linear
 * matmuls read f16/bf16 copies of weights, inputs and (loss-scaled) output gradients; docs/amp.md says what runs in
 * which precision. Not the training loop.
 */
import type { Config } from "../config/mod.ts";
import { type Binding, type CommandBatch, createBuffer, type Gpu, STORAGE, upload } from "../gpu/mod.ts";
import {
  matmul,
  matmulLowPrecision,
  matmulScratchFloats,
  SPLIT_TARGET_WORKGROUPS,
} from "../kernels/matmul.ts";
import { castLowPrecision, lowPrecisionBytes } from "../kernels/cast.ts";
import {
  AMP_STATE_SLOT,
  type AmpDtype,
  initialAmpState,
  type LossScaleOptions,
  resolveAmpDtype,
} from "../kernels/amp.ts";
import type { LowPrecision } from "../reference/amp.ts";
import { copy } from "../kernels/copy.ts";
import { embeddingBackward, embeddingBackwardIndex, embeddingForward } from "../kernels/embedding.ts";
import { rmsnormBackward, rmsnormForward, rmsnormScratchFloats } from "../kernels/rmsnorm.ts";
import { swigluBackward, swigluForward } from "../kernels/swiglu.ts";
import { crossEntropy, crossEntropyLoss, lossSum } from "../kernels/crossentropy.ts";
import { rope } from "../kernels/rope.ts";
import { attentionBackward, attentionForward, attentionScratchFloats } from "../kernels/attention.ts";
import { type Layout, type ModelDims, modelDims } from "./layout.ts";
import { buildLayout } from "./layout.ts";
import { MoeLayer, type MoeMetrics, MoeScratch, moeTensors, readMoeMetrics } from "./moe.ts";

const F32 = 4;

/** Activations of one block, kept from forward for backward. Shapes with N = B·T. */
interface BlockActs {
  x: GPUBuffer; // (N,C) block input (residual stream)
  n1: GPUBuffer; // (N,C) attention-norm output
  rstd1: GPUBuffer; // (N)
  q: GPUBuffer; // (B,T,NH,HS) after RoPE
  k: GPUBuffer; // (B,T,KVH,HS) after RoPE
  v: GPUBuffer; // (B,T,KVH,HS)
  att: GPUBuffer; // (B,T,NH,HS) attention output
  lse: GPUBuffer; // (B,NH,T)
  xmid: GPUBuffer; // (N,C) residual after attention
  n2: GPUBuffer; // (N,C) mlp-norm output
  rstd2: GPUBuffer; // (N)
  gate: GPUBuffer; // (N,I)
  up: GPUBuffer; // (N,I)
  h: GPUBuffer; // (N,I) silu(gate)·up
}

/** The AMP buffers: packed f16/bf16 copies (two per u32) that the Linear matmuls read. */
interface LowPrecisionCopies {
  dtype: LowPrecision;
  weights: GPUBuffer; // (layout.total) the parameters, recast at every forward
  acts: Map<GPUBuffer, GPUBuffer>; // f32 matmul input → its copy: n1, att, n2, h (N,·) per block, final nf
  dy: GPUBuffer; // (N, max(V, I, NH·HS, C)) the output gradient of the Linear being back-propagated, times S
}

/** One micro-batch of token ids uploaded for a step. */
export interface TokenBatch {
  /** (B,T) input ids. */
  inputs: Uint32Array;
  /** (B,T) next-token targets. */
  targets: Uint32Array;
}

/** The GPU model for micro-batches of B sequences of T tokens. */
export class Engine {
  readonly dims: ModelDims;
  readonly layout: Layout;
  readonly B: number;
  readonly T: number;
  readonly N: number;
  readonly params: GPUBuffer; // (layout.total)
  readonly grads?: GPUBuffer; // (layout.total)
  /**
   * Scalar accumulators read back rarely: [0] train loss sum, [1] eval loss sum, [2] grad-norm², [3] spare,
   * [8..11] the AMP state (loss scale, clean steps, skipped steps, overflow flag; src/kernels/amp.ts).
   */
  readonly scalars: GPUBuffer;
  /** What the Linear matmuls compute from: float32, or the AMP dtype that runs on this adapter. */
  readonly precision: AmpDtype;
  #lp?: LowPrecisionCopies;
  #growthInterval?: number;
  #acts: BlockActs[];
  #final: { x: GPUBuffer; nf: GPUBuffer; rstdf: GPUBuffer; logits: GPUBuffer; losses: GPUBuffer };
  #ids: GPUBuffer; // u32 (N)
  #targets: GPUBuffer; // u32 (N)
  #embIndex?: GPUBuffer; // u32, from embeddingBackwardIndex
  #embUnique = 0;
  #moe = new Map<number, MoeLayer>(); // layer → its MoE MLP
  #moeScratch?: MoeScratch;
  #grad?: {
    dx: GPUBuffer; // (N,C)
    dn: GPUBuffer; // (N,C)
    datt: GPUBuffer; // (N,NH·HS)
    dq: GPUBuffer;
    dk: GPUBuffer;
    dv: GPUBuffer;
    dh: GPUBuffer; // (N,I)
    dgate: GPUBuffer;
    dup: GPUBuffer;
    normScratch: GPUBuffer;
    attScratch: GPUBuffer;
    splitK: GPUBuffer; // split-K partial sums of the weight-gradient matmuls
  };
  /** Workgroups a weight-gradient matmul is split along K to reach (0 = no split, on CPU adapters). */
  readonly splitTarget: number;

  constructor(
    readonly gpu: Gpu,
    readonly config: Config,
    options: {
      batchSize: number;
      seqLen?: number;
      training: boolean;
      params?: GPUBuffer;
      /** Split-K target for the weight gradients (default: SPLIT_TARGET_WORKGROUPS on a GPU, 0 on a CPU adapter). */
      splitTarget?: number;
      /** Overrides what config.training.use_amp/amp_dtype resolve to on this adapter (resolveAmpDtype). */
      precision?: AmpDtype;
      /** Loss-scale start and growth interval (float16 AMP; defaults 2^16 and 2000). */
      lossScale?: LossScaleOptions;
    },
  ) {
    const d = (this.dims = modelDims(config.model));
    this.layout = buildLayout(config.model);
    this.B = options.batchSize;
    this.T = options.seqLen ?? d.T;
    const N = (this.N = this.B * this.T);
    const dev = gpu.device;
    const buf = (label: string, floats: number) => createBuffer(dev, label, Math.max(1, floats) * F32);
    this.params = options.params ?? buf("params", this.layout.total);
    const qw = d.NH * d.HS;
    const kvw = d.KVH * d.HS;
    this.#acts = Array.from({ length: d.L }, (_, l) => ({
      x: buf(`L${l}.x`, N * d.C),
      n1: buf(`L${l}.n1`, N * d.C),
      rstd1: buf(`L${l}.rstd1`, N),
      q: buf(`L${l}.q`, N * qw),
      k: buf(`L${l}.k`, N * kvw),
      v: buf(`L${l}.v`, N * kvw),
      att: buf(`L${l}.att`, N * qw),
      lse: buf(`L${l}.lse`, this.B * d.NH * this.T),
      xmid: buf(`L${l}.xmid`, N * d.C),
      n2: buf(`L${l}.n2`, N * d.C),
      rstd2: buf(`L${l}.rstd2`, N),
      gate: buf(`L${l}.gate`, d.moeLayers.has(l) ? 1 : N * d.I),
      up: buf(`L${l}.up`, d.moeLayers.has(l) ? 1 : N * d.I),
      h: buf(`L${l}.h`, d.moeLayers.has(l) ? 1 : N * d.I),
    }));
    const moeDims = { N, C: d.C, I: d.I, E: d.E, K: d.K };
    for (const l of d.moeLayers) this.#moe.set(l, new MoeLayer(gpu, moeDims, l, config.model.moe));
    this.#final = {
      x: buf("final.x", N * d.C),
      nf: buf("final.nf", N * d.C),
      rstdf: buf("final.rstd", N),
      logits: buf("logits", N * d.V),
      losses: buf("losses", N),
    };
    this.#ids = buf("ids", N);
    this.#targets = buf("targets", N);
    this.scalars = createBuffer(dev, "scalars", 16 * F32, STORAGE);
    this.precision = options.precision ?? resolveAmpDtype(config.training, gpu).dtype;
    if (this.precision !== "float32") {
      const dtype = this.precision;
      const lp = (label: string, n: number) => createBuffer(dev, `${label} (${dtype})`, lowPrecisionBytes(n));
      const acts = new Map<GPUBuffer, GPUBuffer>();
      for (const a of this.#acts) {
        for (const x of [a.n1, a.att, a.n2, a.h]) acts.set(x, lp(x.label, x.size / F32));
      }
      acts.set(this.#final.nf, lp("final.nf", N * d.C));
      const dyFloats = options.training ? N * Math.max(d.V, d.I, qw, d.C) : 1;
      this.#lp = { dtype, weights: lp("params", this.layout.total), acts, dy: lp("dy", dyFloats) };
      upload(dev, this.scalars, initialAmpState(dtype, options.lossScale), AMP_STATE_SLOT * F32);
      this.#growthInterval = options.lossScale?.growthInterval;
    }
    // A CPU adapter (lavapipe) has a few cores that the output tiles already fill: splitting only adds the reduce.
    this.splitTarget = options.splitTarget ?? (gpu.summary.isFallback ? 0 : SPLIT_TARGET_WORKGROUPS);
    if (options.training) {
      // Weight-gradient shapes (out, in) with K = N; the largest split scratch serves them all, one at a time.
      const dW = [[d.V, d.C], [d.C, d.I], [d.I, d.C], [d.C, qw], [qw, d.C], [kvw, d.C]];
      const splitFloats = Math.max(...dW.map(([o, i]) => matmulScratchFloats(o, i, N, this.splitTarget)));
      this.grads = buf("grads", this.layout.total);
      this.#grad = {
        dx: buf("dx", N * d.C),
        dn: buf("dn", N * d.C),
        datt: buf("datt", N * qw),
        dq: buf("dq", N * qw),
        dk: buf("dk", N * kvw),
        dv: buf("dv", N * kvw),
        dh: buf("dh", N * d.I),
        dgate: buf("dgate", N * d.I),
        dup: buf("dup", N * d.I),
        normScratch: buf("rmsnorm scratch", rmsnormScratchFloats(N, d.C)),
        attScratch: buf("attention scratch", attentionScratchFloats(this.B, this.T, d.NH)),
        splitK: buf("split-K scratch", splitFloats),
      };
      if (d.moeLayers.size > 0) this.#moeScratch = new MoeScratch(gpu, moeDims, this.splitTarget);
    }
  }

  /** A binding of one parameter tensor (or its gradient) inside the flat buffer. */
  w(name: string, of: GPUBuffer = this.params): Binding {
    const e = this.layout.byName.get(name);
    if (!e) throw new Error(`Cannot find parameter ${name} in the layout`);
    return { buffer: of, offset: e.offset * F32, size: e.size * F32 };
  }

  /** The gradient binding of a parameter. */
  g(name: string): Binding {
    if (!this.grads) throw new Error("Cannot take gradients: the engine was built for inference");
    return this.w(name, this.grads);
  }

  /** The loss-scale step the optimizer runs under AMP (pass to AdamW.step as `amp`); undefined in float32. */
  get ampStep(): { dtype: LowPrecision; growthInterval?: number } | undefined {
    return this.#lp && { dtype: this.#lp.dtype, growthInterval: this.#growthInterval };
  }

  /** Under AMP, records the low-precision copy of a matmul input `x` (n elements) that #linear then reads. */
  #narrow(batch: CommandBatch, x: GPUBuffer, n: number): void {
    const lp = this.#lp;
    if (lp) castLowPrecision(batch, { src: x, dst: lp.acts.get(x)!, n, dtype: lp.dtype });
  }

  /** y (N,out) (+)= x (N,in) · Wᵀ for the Linear `name`; under AMP from the low-precision copies of x and W. */
  #linear(
    batch: CommandBatch,
    x: GPUBuffer,
    name: string,
    y: GPUBuffer,
    inp: number,
    out: number,
    accumulate = false,
  ): void {
    const lp = this.#lp;
    const shape = { M: this.N, K: inp, N: out, transB: true, accumulate };
    if (!lp) {
      matmul(batch, { a: x, b: this.w(name), c: y, ...shape });
      return;
    }
    matmulLowPrecision(batch, {
      dtype: lp.dtype,
      a: lp.acts.get(x)!,
      b: lp.weights,
      bOffset: this.#offset(name),
      c: y,
      ...shape,
    });
  }

  /**
   * Backward of y = x·Wᵀ: dx (N,in) (+)= dy·W and dW (out,in) += dyᵀ·x (K = N is long and the output small, so
   * split-K pays there on a large GPU). Under AMP dy (N,out) is first stored in low precision times the loss scale
   * S, and both matmuls read it with the copies of W and x and multiply by 1/S: the f32 grads stay unscaled.
   */
  #linearBackward(
    batch: CommandBatch,
    dy: GPUBuffer,
    x: GPUBuffer,
    name: string,
    dx: GPUBuffer,
    out: number,
    inp: number,
    accumulateDx = false,
  ): void {
    const N = this.N;
    const split = { scratch: this.#grad?.splitK, splitTarget: this.splitTarget };
    const lp = this.#lp;
    if (!lp) {
      matmul(batch, { a: dy, b: this.w(name), c: dx, M: N, K: out, N: inp, accumulate: accumulateDx });
      const dW = { a: dy, b: x, c: this.g(name), M: out, K: N, N: inp, transA: true, accumulate: true };
      matmul(batch, { ...dW, ...split });
      return;
    }
    const scale = { state: this.scalars, slot: AMP_STATE_SLOT };
    castLowPrecision(batch, { src: dy, dst: lp.dy, n: N * out, dtype: lp.dtype, scale });
    const common = { dtype: lp.dtype, a: lp.dy, unscale: scale };
    matmulLowPrecision(batch, {
      ...common,
      b: lp.weights,
      bOffset: this.#offset(name),
      c: dx,
      M: N,
      K: out,
      N: inp,
      accumulate: accumulateDx,
    });
    const dW = { b: lp.acts.get(x)!, c: this.g(name), M: out, K: N, N: inp, transA: true, accumulate: true };
    matmulLowPrecision(batch, { ...common, ...dW, ...split });
  }

  #offset(name: string): number {
    const e = this.layout.byName.get(name);
    if (!e) throw new Error(`Cannot find parameter ${name} in the layout`);
    return e.offset;
  }

  /** The head weight: the tied embedding or the separate LM head. */
  #headName(): string {
    return this.config.model.tie_embeddings ? "embed.weight" : "head.weight";
  }

  /** Uploads a micro-batch (queue writes land before the next submit). */
  upload(tokens: TokenBatch): void {
    const dev = this.gpu.device;
    upload(dev, this.#ids, tokens.inputs);
    upload(dev, this.#targets, tokens.targets);
    if (this.grads) {
      const { index, unique } = embeddingBackwardIndex(tokens.inputs);
      if (!this.#embIndex || this.#embIndex.size < index.byteLength) {
        this.#embIndex?.destroy();
        this.#embIndex = createBuffer(dev, "embedding index", index.byteLength * 2);
      }
      upload(dev, this.#embIndex, index);
      this.#embUnique = unique;
    }
  }

  /** Records the forward pass up to the logits (N,V). */
  forward(batch: CommandBatch): void {
    const d = this.dims;
    const { B, T, N } = this;
    const eps = this.config.model.norm_eps;
    const theta = this.config.model.rope_theta;
    const qw = d.NH * d.HS;
    const kvw = d.KVH * d.HS;
    const lp = this.#lp;
    if (lp) {
      castLowPrecision(batch, { src: this.params, dst: lp.weights, n: this.layout.total, dtype: lp.dtype });
    }
    embeddingForward(batch, {
      ids: this.#ids,
      weight: this.w("embed.weight"),
      out: this.#acts[0]?.x ?? this.#final.x,
      N,
      C: d.C,
    });
    for (let l = 0; l < d.L; l++) {
      const a = this.#acts[l];
      const p = `blocks.${l}`;
      const next = l + 1 < d.L ? this.#acts[l + 1].x : this.#final.x;
      rmsnormForward(batch, {
        x: a.x,
        weight: this.w(`${p}.n1.weight`),
        out: a.n1,
        rstd: a.rstd1,
        N,
        C: d.C,
        eps,
      });
      this.#narrow(batch, a.n1, N * d.C);
      this.#linear(batch, a.n1, `${p}.attn.q.weight`, a.q, d.C, qw);
      this.#linear(batch, a.n1, `${p}.attn.k.weight`, a.k, d.C, kvw);
      this.#linear(batch, a.n1, `${p}.attn.v.weight`, a.v, d.C, kvw);
      rope(batch, { x: a.q, B, T, H: d.NH, HS: d.HS, theta });
      rope(batch, { x: a.k, B, T, H: d.KVH, HS: d.HS, theta });
      attentionForward(batch, {
        q: a.q,
        k: a.k,
        v: a.v,
        out: a.att,
        lse: a.lse,
        B,
        T,
        NH: d.NH,
        KVH: d.KVH,
        HS: d.HS,
      });
      copy(batch, { src: a.x, dst: a.xmid, n: N * d.C });
      this.#narrow(batch, a.att, N * qw);
      this.#linear(batch, a.att, `${p}.attn.o.weight`, a.xmid, qw, d.C, true);
      rmsnormForward(batch, {
        x: a.xmid,
        weight: this.w(`${p}.n2.weight`),
        out: a.n2,
        rstd: a.rstd2,
        N,
        C: d.C,
        eps,
      });
      const moe = this.#moe.get(l);
      if (moe) {
        copy(batch, { src: a.xmid, dst: next, n: N * d.C });
        moe.forward(batch, { x: a.n2, out: next, w: moeTensors(l, (n) => this.w(n)), accumulate: true });
        continue;
      }
      this.#narrow(batch, a.n2, N * d.C);
      this.#linear(batch, a.n2, `${p}.mlp.gate.weight`, a.gate, d.C, d.I);
      this.#linear(batch, a.n2, `${p}.mlp.up.weight`, a.up, d.C, d.I);
      swigluForward(batch, { gate: a.gate, up: a.up, out: a.h, n: N * d.I });
      copy(batch, { src: a.xmid, dst: next, n: N * d.C });
      this.#narrow(batch, a.h, N * d.I);
      this.#linear(batch, a.h, `${p}.mlp.down.weight`, next, d.I, d.C, true);
    }
    const f = this.#final;
    rmsnormForward(batch, {
      x: f.x,
      weight: this.w("norm.weight"),
      out: f.nf,
      rstd: f.rstdf,
      N,
      C: d.C,
      eps,
    });
    this.#narrow(batch, f.nf, N * d.C);
    this.#linear(batch, f.nf, this.#headName(), f.logits, d.C, d.V);
  }

  /** The logits buffer (N,V) after forward() (dlogits after trainStep's loss). */
  get logits(): GPUBuffer {
    return this.#final.logits;
  }

  /**
   * Forward, fused loss + dlogits, and backward, accumulating into the gradients (zero them at the start of a
   * step with zeroGrads). `dscale` = 1/(N·grad_accum_steps). The summed loss is added to scalars[0].
   */
  trainMicroBatch(batch: CommandBatch, dscale: number): void {
    const g = this.#grad;
    if (!g) throw new Error("Cannot train: the engine was built for inference");
    const d = this.dims;
    const { B, T, N } = this;
    const qw = d.NH * d.HS;
    const kvw = d.KVH * d.HS;
    const f = this.#final;
    this.forward(batch);
    crossEntropy(batch, { logits: f.logits, targets: this.#targets, losses: f.losses, N, V: d.V, dscale });
    lossSum(batch, { losses: f.losses, acc: this.scalars, slot: 0, N, accumulate: true });
    for (const moe of this.#moe.values()) moe.addAuxLoss(batch, this.scalars, 0, N); // slot 0 holds N·loss
    // ---- backward, in exact reverse order ----
    const head = this.#headName();
    this.#linearBackward(batch, f.logits, f.nf, head, g.dn, d.V, d.C); // dnf = dlogits · W, dW += dlogitsᵀ · nf
    rmsnormBackward(batch, {
      dout: g.dn,
      x: f.x,
      weight: this.w("norm.weight"),
      rstd: f.rstdf,
      dx: g.dx,
      dweight: this.g("norm.weight"),
      scratch: g.normScratch,
      N,
      C: d.C,
    });
    for (let l = d.L - 1; l >= 0; l--) {
      const a = this.#acts[l];
      const p = `blocks.${l}`;
      const moe = this.#moe.get(l);
      if (moe) {
        moe.backward(batch, {
          dy: g.dx,
          dx: g.dn,
          x: a.n2,
          w: moeTensors(l, (n) => this.w(n)),
          g: moeTensors(l, (n) => this.g(n)),
          scratch: this.#moeScratch!,
          auxScale: dscale * N,
        });
      } else {
        // MLP: next = xmid + h · Wdownᵀ
        this.#linearBackward(batch, g.dx, a.h, `${p}.mlp.down.weight`, g.dh, d.C, d.I);
        swigluBackward(batch, { dout: g.dh, gate: a.gate, up: a.up, dgate: g.dgate, dup: g.dup, n: N * d.I });
        this.#linearBackward(batch, g.dgate, a.n2, `${p}.mlp.gate.weight`, g.dn, d.I, d.C);
        this.#linearBackward(batch, g.dup, a.n2, `${p}.mlp.up.weight`, g.dn, d.I, d.C, true);
      }
      rmsnormBackward(batch, {
        dout: g.dn,
        x: a.xmid,
        weight: this.w(`${p}.n2.weight`),
        rstd: a.rstd2,
        dx: g.dx,
        dweight: this.g(`${p}.n2.weight`),
        scratch: g.normScratch,
        N,
        C: d.C,
        accumulateDx: true,
      });
      // Attention: xmid = x + att · Woᵀ
      this.#linearBackward(batch, g.dx, a.att, `${p}.attn.o.weight`, g.datt, d.C, qw);
      attentionBackward(batch, {
        q: a.q,
        k: a.k,
        v: a.v,
        out: a.att,
        lse: a.lse,
        dout: g.datt,
        dq: g.dq,
        dk: g.dk,
        dv: g.dv,
        scratch: g.attScratch,
        B,
        T,
        NH: d.NH,
        KVH: d.KVH,
        HS: d.HS,
      });
      rope(batch, { x: g.dq, B, T, H: d.NH, HS: d.HS, theta: this.config.model.rope_theta, inverse: true });
      rope(batch, { x: g.dk, B, T, H: d.KVH, HS: d.HS, theta: this.config.model.rope_theta, inverse: true });
      const proj = [[g.dq, "q", qw], [g.dk, "k", kvw], [g.dv, "v", kvw]] as const;
      proj.forEach(([dy, name, width], i) => {
        this.#linearBackward(batch, dy, a.n1, `${p}.attn.${name}.weight`, g.dn, width, d.C, i > 0);
      });
      rmsnormBackward(batch, {
        dout: g.dn,
        x: a.x,
        weight: this.w(`${p}.n1.weight`),
        rstd: a.rstd1,
        dx: g.dx,
        dweight: this.g(`${p}.n1.weight`),
        scratch: g.normScratch,
        N,
        C: d.C,
        accumulateDx: true,
      });
    }
    if (!this.#embIndex) throw new Error("Cannot run backward: no micro-batch was uploaded");
    embeddingBackward(batch, {
      index: this.#embIndex,
      unique: this.#embUnique,
      N,
      C: d.C,
      dout: g.dx,
      dweight: this.g("embed.weight"),
    });
  }

  /** Forward and per-token loss without gradients; the summed loss is added to scalars[slot]. */
  evalMicroBatch(batch: CommandBatch, slot = 1): void {
    const f = this.#final;
    this.forward(batch);
    crossEntropyLoss(batch, {
      logits: f.logits,
      targets: this.#targets,
      losses: f.losses,
      N: this.N,
      V: this.dims.V,
    });
    lossSum(batch, { losses: f.losses, acc: this.scalars, slot, N: this.N, accumulate: true });
  }

  /**
   * Appends a read of every MoE layer's stats (from the latest forward) to `batch`; after submit the promise gives
   * `moe/layer_X_balance`, `_entropy`, `_z_loss`, `_aux_loss`, `_expert_i_fraction`. Undefined for a dense model.
   */
  moeMetrics(batch: CommandBatch): Promise<MoeMetrics> | undefined {
    return this.#moe.size > 0 ? readMoeMetrics(batch, [...this.#moe.values()]) : undefined;
  }

  /** Zeroes the gradients (start of an optimizer step). */
  zeroGrads(batch: CommandBatch): void {
    if (this.grads) batch.clear(this.grads);
  }

  /** Releases every GPU buffer of this engine (not a shared params buffer passed in). */
  destroy(shared = false): void {
    for (const a of this.#acts) for (const b of Object.values(a)) b.destroy();
    for (const b of Object.values(this.#final)) b.destroy();
    if (this.#grad) { for (const b of Object.values(this.#grad)) b.destroy(); }
    if (this.#lp) { for (const b of [this.#lp.weights, this.#lp.dy, ...this.#lp.acts.values()]) b.destroy(); }
    for (const m of this.#moe.values()) m.destroy();
    this.#moeScratch?.destroy();
    for (const b of [this.#ids, this.#targets, this.scalars, this.grads, this.#embIndex]) b?.destroy();
    if (!shared) this.params.destroy();
  }
}
