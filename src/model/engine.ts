/**
 * The dense Llama-style model on the GPU: forward → loss → backward recorded into a CommandBatch in data-flow order
 * (backward in exact reverse). The buffers are activations.ts; the Linear layers, in f32 or from AMP's 16-bit copies,
 * are amp.ts; MoE MLPs are moe.ts, called at the MLP sites. docs/amp.md says what runs in which precision. Not the
 * training loop.
 */
import type { Config } from "../config/mod.ts";
import { type Binding, type CommandBatch, createBuffer, type Gpu, STORAGE, upload } from "../gpu/mod.ts";
import { SPLIT_TARGET_WORKGROUPS } from "../kernels/matmul.ts";
import { type AmpDtype, type LossScaleOptions, resolveAmpDtype } from "../kernels/amp.ts";
import type { LowPrecision } from "../kernels/contracts.ts";
import { copy } from "../kernels/copy.ts";
import { embeddingBackward, embeddingBackwardIndex, embeddingForward } from "../kernels/embedding.ts";
import { rmsnormBackward, rmsnormForward } from "../kernels/rmsnorm.ts";
import { swigluBackward, swigluForward } from "../kernels/swiglu.ts";
import { crossEntropy, crossEntropyLoss, lossSum } from "../kernels/crossentropy.ts";
import { rope } from "../kernels/rope.ts";
import { attentionBackward, attentionForward } from "../kernels/attention.ts";
import { buildLayout, type Layout, type ModelDims, modelDims } from "./layout.ts";
import { MoeLayer, type MoeMetrics, MoeScratch, moeTensors, readMoeMetrics } from "./moe.ts";
import {
  activationBuffers,
  type Activations,
  allocateActivations,
  allocateGradScratch,
  type GradScratch,
} from "./activations.ts";
import { type AmpState, Linears } from "./amp.ts";
import { SCALAR_SLOT, SCALAR_SLOTS } from "./scalars.ts";

const F32 = 4;

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
  /** Scalar accumulators read back rarely, (SCALAR_SLOTS): the slots are SCALAR_SLOT (scalars.ts). */
  readonly scalars: GPUBuffer;
  /** What the Linear matmuls compute from: float32, or the AMP dtype that runs on this adapter. */
  readonly precision: AmpDtype;
  /** Workgroups a weight-gradient matmul is split along K to reach (0 = no split, on CPU adapters). */
  readonly splitTarget: number;
  #linears: Linears;
  #acts: Activations;
  #grad?: GradScratch;
  #ids: GPUBuffer; // u32 (N)
  #targets: GPUBuffer; // u32 (N)
  #embIndex?: GPUBuffer; // u32, from embeddingBackwardIndex
  #embUnique = 0;
  #moe = new Map<number, MoeLayer>(); // layer → its MoE MLP
  #moeScratch?: MoeScratch;

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
    const buf = (label: string, floats: number) => createBuffer(dev, label, floats * F32);
    this.params = options.params ?? buf("params", this.layout.total);
    this.precision = options.precision ?? resolveAmpDtype(config.training, gpu).dtype;
    const lowPrecision = this.precision === "float32" ? undefined : this.precision;
    this.#acts = allocateActivations(dev, d, this.B, this.T, lowPrecision);
    const moeDims = { N, C: d.C, I: d.I, E: d.E, K: d.K };
    for (const l of d.moeLayers) this.#moe.set(l, new MoeLayer(gpu, moeDims, l, config.model.moe));
    this.#ids = buf("ids", N);
    this.#targets = buf("targets", N);
    this.scalars = createBuffer(dev, "scalars", SCALAR_SLOTS * F32, STORAGE);
    // A CPU adapter (lavapipe) has a few cores that the output tiles already fill: splitting only adds the reduce.
    this.splitTarget = options.splitTarget ?? (gpu.summary.isFallback ? 0 : SPLIT_TARGET_WORKGROUPS);
    if (options.training) {
      this.grads = buf("grads", this.layout.total);
      this.#grad = allocateGradScratch(dev, d, this.B, this.T, this.splitTarget);
      if (d.moeLayers.size > 0) this.#moeScratch = new MoeScratch(gpu, moeDims, this.splitTarget);
    }
    const dyFloats = options.training ? N * Math.max(d.V, d.I, d.NH * d.HS, d.C) : 0;
    this.#linears = new Linears(gpu, this.layout, {
      params: this.params,
      grads: this.grads,
      scalars: this.scalars,
      splitK: this.#grad?.splitK,
    }, {
      precision: this.precision,
      N,
      dyFloats,
      splitTarget: this.splitTarget,
      lossScale: options.lossScale,
    });
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
    return this.#linears.ampStep;
  }

  /** The AMP loss-scale state for a checkpoint (one readback); undefined in float32. */
  readAmpState(): Promise<AmpState | undefined> {
    return this.#linears.readState();
  }

  /** Continues a checkpoint's AMP loss-scale state; throws when it was saved under another dtype. */
  restoreAmpState(state: AmpState): void {
    this.#linears.restoreState(state);
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
    const { norm_eps: eps, rope_theta: theta } = this.config.model;
    const [qw, kvw] = [d.NH * d.HS, d.KVH * d.HS];
    const heads = { B, T, NH: d.NH, KVH: d.KVH, HS: d.HS };
    const mm = this.#linears;
    const { blocks, final: f } = this.#acts;
    const norm = (x: GPUBuffer, weight: string, out: GPUBuffer, rstd: GPUBuffer) =>
      rmsnormForward(batch, { x, weight: this.w(weight), out, rstd, N, C: d.C, eps });
    mm.castWeights(batch);
    embeddingForward(batch, {
      ids: this.#ids,
      weight: this.w("embed.weight"),
      out: blocks[0]?.x ?? f.x,
      N,
      C: d.C,
    });
    for (let l = 0; l < d.L; l++) {
      const a = blocks[l];
      const p = `blocks.${l}`;
      const next = l + 1 < d.L ? blocks[l + 1].x : f.x;
      // Attention: xmid = x + attention(rope(n1·Wqᵀ), rope(n1·Wkᵀ), n1·Wvᵀ) · Woᵀ, n1 = rmsnorm(x)
      norm(a.x, `${p}.n1.weight`, a.n1.f32, a.rstd1);
      mm.narrow(batch, a.n1, N * d.C);
      mm.forward(batch, a.n1, `${p}.attn.q.weight`, a.q, d.C, qw);
      mm.forward(batch, a.n1, `${p}.attn.k.weight`, a.k, d.C, kvw);
      mm.forward(batch, a.n1, `${p}.attn.v.weight`, a.v, d.C, kvw);
      rope(batch, { x: a.q, B, T, H: d.NH, HS: d.HS, theta });
      rope(batch, { x: a.k, B, T, H: d.KVH, HS: d.HS, theta });
      attentionForward(batch, { q: a.q, k: a.k, v: a.v, out: a.att.f32, lse: a.lse, ...heads });
      copy(batch, { src: a.x, dst: a.xmid, n: N * d.C });
      mm.narrow(batch, a.att, N * qw);
      mm.forward(batch, a.att, `${p}.attn.o.weight`, a.xmid, qw, d.C, true);
      // MLP: next = xmid + mlp(n2), n2 = rmsnorm(xmid)
      norm(a.xmid, `${p}.n2.weight`, a.n2.f32, a.rstd2);
      copy(batch, { src: a.xmid, dst: next, n: N * d.C });
      const moe = this.#moe.get(l);
      if (moe) {
        moe.forward(batch, { x: a.n2.f32, out: next, w: moeTensors(l, (n) => this.w(n)), accumulate: true });
        continue;
      }
      mm.narrow(batch, a.n2, N * d.C);
      mm.forward(batch, a.n2, `${p}.mlp.gate.weight`, a.gate, d.C, d.I);
      mm.forward(batch, a.n2, `${p}.mlp.up.weight`, a.up, d.C, d.I);
      swigluForward(batch, { gate: a.gate, up: a.up, out: a.h.f32, n: N * d.I });
      mm.narrow(batch, a.h, N * d.I);
      mm.forward(batch, a.h, `${p}.mlp.down.weight`, next, d.I, d.C, true);
    }
    norm(f.x, "norm.weight", f.nf.f32, f.rstdf);
    mm.narrow(batch, f.nf, N * d.C);
    mm.forward(batch, f.nf, this.#headName(), f.logits, d.C, d.V);
  }

  /** The logits buffer (N,V) after forward() (dlogits after trainStep's loss). */
  get logits(): GPUBuffer {
    return this.#acts.final.logits;
  }

  /**
   * Forward, fused loss + dlogits, and backward, accumulating into the gradients (zero them at the start of a
   * step with zeroGrads). `dscale` = 1/(N·grad_accum_steps). The summed loss is added to the trainLoss slot.
   */
  trainMicroBatch(batch: CommandBatch, dscale: number): void {
    const g = this.#grad;
    if (!g) throw new Error("Cannot train: the engine was built for inference");
    if (!this.#embIndex) throw new Error("Cannot run backward: no micro-batch was uploaded");
    const d = this.dims;
    const { B, T, N } = this;
    const theta = this.config.model.rope_theta;
    const [qw, kvw] = [d.NH * d.HS, d.KVH * d.HS];
    const heads = { B, T, NH: d.NH, KVH: d.KVH, HS: d.HS };
    const mm = this.#linears;
    const { blocks, final: f } = this.#acts;
    // dx (+)= rmsnorm backward of dn at input x; the norm weight's gradient accumulates
    const normBackward = (x: GPUBuffer, weight: string, rstd: GPUBuffer, accumulateDx: boolean) =>
      rmsnormBackward(batch, {
        dout: g.dn,
        x,
        weight: this.w(weight),
        rstd,
        dx: g.dx,
        dweight: this.g(weight),
        scratch: g.normScratch,
        N,
        C: d.C,
        accumulateDx,
      });
    this.forward(batch);
    crossEntropy(batch, { logits: f.logits, targets: this.#targets, losses: f.losses, N, V: d.V, dscale });
    const slot = SCALAR_SLOT.trainLoss; // holds N·loss
    lossSum(batch, { losses: f.losses, acc: this.scalars, slot, N, accumulate: true });
    for (const moe of this.#moe.values()) moe.addAuxLoss(batch, this.scalars, slot, N);
    // ---- backward, in exact reverse order ----
    mm.backward(batch, f.logits, f.nf, this.#headName(), g.dn, d.V, d.C); // dnf = dlogits·W, dW += dlogitsᵀ·nf
    normBackward(f.x, "norm.weight", f.rstdf, false);
    for (let l = d.L - 1; l >= 0; l--) {
      const a = blocks[l];
      const p = `blocks.${l}`;
      const moe = this.#moe.get(l);
      // MLP: g.dx holds dnext; the MLP gives dn2 (g.dn), and g.dx += the n2-norm backward makes it dxmid
      if (moe) {
        const [w, gr] = [moeTensors(l, (n) => this.w(n)), moeTensors(l, (n) => this.g(n))];
        const scratch = this.#moeScratch!;
        moe.backward(batch, { dy: g.dx, dx: g.dn, x: a.n2.f32, w, g: gr, scratch, auxScale: dscale * N });
      } else {
        mm.backward(batch, g.dx, a.h, `${p}.mlp.down.weight`, g.dh, d.C, d.I);
        swigluBackward(batch, { dout: g.dh, gate: a.gate, up: a.up, dgate: g.dgate, dup: g.dup, n: N * d.I });
        mm.backward(batch, g.dgate, a.n2, `${p}.mlp.gate.weight`, g.dn, d.I, d.C);
        mm.backward(batch, g.dup, a.n2, `${p}.mlp.up.weight`, g.dn, d.I, d.C, true);
      }
      normBackward(a.xmid, `${p}.n2.weight`, a.rstd2, true);
      // Attention: datt from dxmid, then dq, dk, dv (un-rotated), dn1, and g.dx += the n1-norm backward: dx
      mm.backward(batch, g.dx, a.att, `${p}.attn.o.weight`, g.datt, d.C, qw);
      const saved = { q: a.q, k: a.k, v: a.v, out: a.att.f32, lse: a.lse };
      const dqkv = { dq: g.dq, dk: g.dk, dv: g.dv };
      attentionBackward(batch, { ...saved, dout: g.datt, ...dqkv, scratch: g.attScratch, ...heads });
      rope(batch, { x: g.dq, B, T, H: d.NH, HS: d.HS, theta, inverse: true });
      rope(batch, { x: g.dk, B, T, H: d.KVH, HS: d.HS, theta, inverse: true });
      mm.backward(batch, g.dq, a.n1, `${p}.attn.q.weight`, g.dn, qw, d.C);
      mm.backward(batch, g.dk, a.n1, `${p}.attn.k.weight`, g.dn, kvw, d.C, true);
      mm.backward(batch, g.dv, a.n1, `${p}.attn.v.weight`, g.dn, kvw, d.C, true);
      normBackward(a.x, `${p}.n1.weight`, a.rstd1, true);
    }
    const emb = { index: this.#embIndex, unique: this.#embUnique };
    embeddingBackward(batch, { ...emb, N, C: d.C, dout: g.dx, dweight: this.g("embed.weight") });
  }

  /** Forward and per-token loss without gradients; the summed loss is added to scalars[slot]. */
  evalMicroBatch(batch: CommandBatch, slot: number = SCALAR_SLOT.evalLoss): void {
    const { logits, losses } = this.#acts.final;
    this.forward(batch);
    crossEntropyLoss(batch, { logits, targets: this.#targets, losses, N: this.N, V: this.dims.V });
    lossSum(batch, { losses, acc: this.scalars, slot, N: this.N, accumulate: true });
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
    for (const b of activationBuffers(this.#acts)) b.destroy();
    if (this.#grad) { for (const b of Object.values(this.#grad)) b.destroy(); }
    this.#linears.destroy();
    for (const m of this.#moe.values()) m.destroy();
    this.#moeScratch?.destroy();
    for (const b of [this.#ids, this.#targets, this.scalars, this.grads, this.#embIndex]) b?.destroy();
    if (!shared) this.params.destroy();
  }
}
