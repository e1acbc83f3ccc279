/**
 * The engine's Linear layers (y = x·Wᵀ and its backward) in the run's precision, with what AMP adds around them:
 * the 16-bit weight copy recast at every forward, the casts of the matmul inputs, the loss-scaled 16-bit dy, and the
 * loss-scale state in scalars[8..11] (read for a checkpoint, restored on resume). docs/amp.md says what runs in which
 * precision. Not the activation buffers (activations.ts) and not the loss-scale kernel (src/kernels/amp.ts).
 */
import { type Binding, type CommandBatch, createBuffer, type Gpu, readBuffer, upload } from "../gpu/mod.ts";
import { matmul, matmulLowPrecision } from "../kernels/matmul.ts";
import { castLowPrecision, lowPrecisionBytes } from "../kernels/cast.ts";
import { AMP_STATE_SLOT, type AmpDtype, initialAmpState, type LossScaleOptions } from "../kernels/amp.ts";
import type { LowPrecision } from "../kernels/contracts.ts";
import type { MatmulInput } from "./activations.ts";
import type { Layout } from "./layout.ts";

const F32 = 4;

/** The float16/bfloat16 loss-scale state, as a checkpoint stores it (state.json `amp`). */
export interface AmpState {
  /** The AMP dtype that ran; a resume under another dtype starts its scale afresh. */
  dtype: LowPrecision;
  /** The loss scale S (always 1 in bfloat16). */
  lossScale: number;
  /** Clean steps since S last changed (S doubles at the growth interval). */
  cleanSteps: number;
  /** Steps skipped for a non-finite gradient since the run started. */
  skippedSteps: number;
}

/** The GPU buffers the Linear layers bind: the flat weights, their gradients and the scalars. */
export interface LinearBuffers {
  params: GPUBuffer; // (layout.total)
  grads?: GPUBuffer; // (layout.total)
  scalars: GPUBuffer; // [8..11] the AMP state
  splitK?: GPUBuffer; // split-K scratch of the weight gradients
}

/** Every Linear layer of the model, in float32 or (AMP) from 16-bit copies with f32 accumulation. */
export class Linears {
  #lp?: {
    dtype: LowPrecision;
    weights: GPUBuffer; // (layout.total) the parameters, recast at every forward
    dy: GPUBuffer; // (N, max(V, I, NH·HS, C)) the output gradient of the Linear being back-propagated, times S
  };
  #growthInterval?: number;

  constructor(
    readonly gpu: Gpu,
    readonly layout: Layout,
    readonly bufs: LinearBuffers,
    readonly opts: {
      precision: AmpDtype;
      /** Rows of every Linear's input: N = B·T. */
      N: number;
      /** Floats of the widest Linear output gradient (training), else 0. */
      dyFloats: number;
      splitTarget: number;
      lossScale?: LossScaleOptions;
    },
  ) {
    const dtype = opts.precision;
    if (dtype === "float32") return;
    const lp = (label: string, n: number) =>
      createBuffer(gpu.device, `${label} (${dtype})`, lowPrecisionBytes(Math.max(1, n)));
    this.#lp = { dtype, weights: lp("params", layout.total), dy: lp("dy", opts.dyFloats) };
    upload(gpu.device, bufs.scalars, initialAmpState(dtype, opts.lossScale), AMP_STATE_SLOT * F32);
    this.#growthInterval = opts.lossScale?.growthInterval;
  }

  /** The loss-scale step the optimizer runs under AMP (pass to AdamW.step as `amp`); undefined in float32. */
  get ampStep(): { dtype: LowPrecision; growthInterval?: number } | undefined {
    return this.#lp && { dtype: this.#lp.dtype, growthInterval: this.#growthInterval };
  }

  /** Under AMP, records the recast of the f32 weights into their 16-bit copy (once per forward). */
  castWeights(batch: CommandBatch): void {
    const lp = this.#lp;
    if (lp) {
      castLowPrecision(batch, {
        src: this.bufs.params,
        dst: lp.weights,
        n: this.layout.total,
        dtype: lp.dtype,
      });
    }
  }

  /** Under AMP, records the 16-bit copy of a matmul input (n elements) that forward and backward then read. */
  narrow(batch: CommandBatch, x: MatmulInput, n: number): void {
    const lp = this.#lp;
    if (lp) castLowPrecision(batch, { src: x.f32, dst: this.#copy(x), n, dtype: lp.dtype });
  }

  /** y (N,out) (+)= x (N,in) · Wᵀ for the Linear `name`; under AMP from the 16-bit copies of x and W. */
  forward(
    batch: CommandBatch,
    x: MatmulInput,
    name: string,
    y: GPUBuffer,
    inp: number,
    out: number,
    accumulate = false,
  ): void {
    const lp = this.#lp;
    const shape = { M: this.opts.N, K: inp, N: out, transB: true, accumulate };
    if (!lp) {
      matmul(batch, { a: x.f32, b: this.#weight(name), c: y, ...shape });
      return;
    }
    const bOffset = this.#entry(name).offset;
    matmulLowPrecision(batch, { dtype: lp.dtype, a: this.#copy(x), b: lp.weights, bOffset, c: y, ...shape });
  }

  /**
   * Backward of y = x·Wᵀ: dx (N,in) (+)= dy·W and dW (out,in) += dyᵀ·x (K = N is long and the output small, so
   * split-K pays there on a large GPU). Under AMP dy (N,out) is first stored in 16 bits times the loss scale S, and
   * both matmuls read it with the copies of W and x and multiply by 1/S: the f32 gradients stay unscaled.
   */
  backward(
    batch: CommandBatch,
    dy: GPUBuffer,
    x: MatmulInput,
    name: string,
    dx: GPUBuffer,
    out: number,
    inp: number,
    accumulateDx = false,
  ): void {
    const N = this.opts.N;
    const dW = this.#grad(name);
    const split = { scratch: this.bufs.splitK, splitTarget: this.opts.splitTarget };
    const lp = this.#lp;
    if (!lp) {
      matmul(batch, { a: dy, b: this.#weight(name), c: dx, M: N, K: out, N: inp, accumulate: accumulateDx });
      matmul(batch, {
        a: dy,
        b: x.f32,
        c: dW,
        M: out,
        K: N,
        N: inp,
        transA: true,
        accumulate: true,
        ...split,
      });
      return;
    }
    const scale = { state: this.bufs.scalars, slot: AMP_STATE_SLOT };
    castLowPrecision(batch, { src: dy, dst: lp.dy, n: N * out, dtype: lp.dtype, scale });
    const common = { dtype: lp.dtype, a: lp.dy, unscale: scale };
    const bOffset = this.#entry(name).offset;
    const dxShape = { M: N, K: out, N: inp, accumulate: accumulateDx };
    matmulLowPrecision(batch, { ...common, b: lp.weights, bOffset, c: dx, ...dxShape });
    const dWShape = { M: out, K: N, N: inp, transA: true, accumulate: true };
    matmulLowPrecision(batch, { ...common, b: this.#copy(x), c: dW, ...dWShape, ...split });
  }

  /** The loss-scale state now on the GPU (one readback: for checkpoints, never per step); undefined in float32. */
  async readState(): Promise<AmpState | undefined> {
    const lp = this.#lp;
    if (!lp) return undefined;
    const s = new Float32Array(await readBuffer(this.gpu, this.bufs.scalars, 3 * F32, AMP_STATE_SLOT * F32));
    return { dtype: lp.dtype, lossScale: s[0], cleanSteps: s[1], skippedSteps: s[2] };
  }

  /** Continues from a checkpoint's loss-scale state (queued before the next submit); its dtype must match. */
  restoreState(state: AmpState): void {
    const lp = this.#lp;
    if (!lp || lp.dtype !== state.dtype) {
      throw new Error(
        `Cannot restore the ${state.dtype} loss-scale state: this engine computes in ${
          lp?.dtype ?? "float32"
        }`,
      );
    }
    const s = new Float32Array([state.lossScale, state.cleanSteps, state.skippedSteps, 0]);
    upload(this.gpu.device, this.bufs.scalars, s, AMP_STATE_SLOT * F32);
  }

  /** Releases the 16-bit weight and dy copies. */
  destroy(): void {
    this.#lp?.weights.destroy();
    this.#lp?.dy.destroy();
  }

  #copy(x: MatmulInput): GPUBuffer {
    if (!x.lp) throw new Error(`Cannot run a ${this.#lp?.dtype} matmul: ${x.f32.label} has no 16-bit copy`);
    return x.lp;
  }

  #entry(name: string) {
    const e = this.layout.byName.get(name);
    if (!e) throw new Error(`Cannot find parameter ${name} in the layout`);
    return e;
  }

  #weight(name: string): Binding {
    const e = this.#entry(name);
    return { buffer: this.bufs.params, offset: e.offset * F32, size: e.size * F32 };
  }

  #grad(name: string): Binding {
    if (!this.bufs.grads) throw new Error("Cannot take gradients: the engine was built for inference");
    const e = this.#entry(name);
    return { buffer: this.bufs.grads, offset: e.offset * F32, size: e.size * F32 };
  }
}
