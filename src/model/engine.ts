/**
 * The dense Llama-style model on the GPU: parameter/gradient/AdamW buffers laid out by the layout table, the
 * activations kept for backward, and forward → loss → backward recorded into a CommandBatch in data-flow order
 * (backward in exact reverse). MoE MLPs are src/model/moe.ts, called at the MLP sites. Not the training loop.
 */
import type { Config } from "../config/mod.ts";
import { type Binding, type CommandBatch, createBuffer, type Gpu, STORAGE, upload } from "../gpu/mod.ts";
import { matmul, matmulScratchFloats, SPLIT_TARGET_WORKGROUPS } from "../kernels/matmul.ts";
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
  /** Scalar accumulators read back rarely: [0] train loss sum, [1] eval loss sum, [2] grad-norm², [3] spare. */
  readonly scalars: GPUBuffer;
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

  /**
   * Records dW (out,in) += dyᵀ · x for a Linear weight: dy (N,out), x (N,in). K = N is long and the output small,
   * so this is where split-K pays on a large GPU.
   */
  #weightGrad(
    batch: CommandBatch,
    dy: GPUBuffer,
    x: GPUBuffer,
    name: string,
    out: number,
    inp: number,
  ): void {
    matmul(batch, {
      a: dy,
      b: x,
      c: this.g(name),
      M: out,
      K: this.N,
      N: inp,
      transA: true,
      accumulate: true,
      scratch: this.#grad?.splitK,
      splitTarget: this.splitTarget,
    });
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
      matmul(batch, { a: a.n1, b: this.w(`${p}.attn.q.weight`), c: a.q, M: N, K: d.C, N: qw, transB: true });
      matmul(batch, { a: a.n1, b: this.w(`${p}.attn.k.weight`), c: a.k, M: N, K: d.C, N: kvw, transB: true });
      matmul(batch, { a: a.n1, b: this.w(`${p}.attn.v.weight`), c: a.v, M: N, K: d.C, N: kvw, transB: true });
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
      matmul(batch, {
        a: a.att,
        b: this.w(`${p}.attn.o.weight`),
        c: a.xmid,
        M: N,
        K: qw,
        N: d.C,
        transB: true,
        accumulate: true,
      });
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
      matmul(batch, {
        a: a.n2,
        b: this.w(`${p}.mlp.gate.weight`),
        c: a.gate,
        M: N,
        K: d.C,
        N: d.I,
        transB: true,
      });
      matmul(batch, {
        a: a.n2,
        b: this.w(`${p}.mlp.up.weight`),
        c: a.up,
        M: N,
        K: d.C,
        N: d.I,
        transB: true,
      });
      swigluForward(batch, { gate: a.gate, up: a.up, out: a.h, n: N * d.I });
      copy(batch, { src: a.xmid, dst: next, n: N * d.C });
      matmul(batch, {
        a: a.h,
        b: this.w(`${p}.mlp.down.weight`),
        c: next,
        M: N,
        K: d.I,
        N: d.C,
        transB: true,
        accumulate: true,
      });
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
    matmul(batch, { a: f.nf, b: this.w(this.#headName()), c: f.logits, M: N, K: d.C, N: d.V, transB: true });
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
    matmul(batch, { a: f.logits, b: this.w(head), c: g.dn, M: N, K: d.V, N: d.C }); // dnf = dlogits · W
    this.#weightGrad(batch, f.logits, f.nf, head, d.V, d.C);
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
        matmul(batch, { a: g.dx, b: this.w(`${p}.mlp.down.weight`), c: g.dh, M: N, K: d.C, N: d.I });
        this.#weightGrad(batch, g.dx, a.h, `${p}.mlp.down.weight`, d.C, d.I);
        swigluBackward(batch, { dout: g.dh, gate: a.gate, up: a.up, dgate: g.dgate, dup: g.dup, n: N * d.I });
        matmul(batch, { a: g.dgate, b: this.w(`${p}.mlp.gate.weight`), c: g.dn, M: N, K: d.I, N: d.C });
        matmul(batch, {
          a: g.dup,
          b: this.w(`${p}.mlp.up.weight`),
          c: g.dn,
          M: N,
          K: d.I,
          N: d.C,
          accumulate: true,
        });
        this.#weightGrad(batch, g.dgate, a.n2, `${p}.mlp.gate.weight`, d.I, d.C);
        this.#weightGrad(batch, g.dup, a.n2, `${p}.mlp.up.weight`, d.I, d.C);
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
      matmul(batch, { a: g.dx, b: this.w(`${p}.attn.o.weight`), c: g.datt, M: N, K: d.C, N: qw });
      this.#weightGrad(batch, g.dx, a.att, `${p}.attn.o.weight`, d.C, qw);
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
        matmul(batch, {
          a: dy,
          b: this.w(`${p}.attn.${name}.weight`),
          c: g.dn,
          M: N,
          K: width,
          N: d.C,
          accumulate: i > 0,
        });
        this.#weightGrad(batch, dy, a.n1, `${p}.attn.${name}.weight`, width, d.C);
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
    for (const m of this.#moe.values()) m.destroy();
    this.#moeScratch?.destroy();
    for (const b of [this.#ids, this.#targets, this.scalars, this.grads, this.#embIndex]) b?.destroy();
    if (!shared) this.params.destroy();
  }
}
