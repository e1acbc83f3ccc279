/**
 * Buffers: creation with labels, uploads, and a pool that recycles short-lived buffers (staging, scratch) by
 * size class so a training loop allocates nothing after its first step.
 */
import { checkBufferSize } from "./limits.ts";

/** Storage buffer usage that kernels read, write, copy from and copy into. */
export const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Rounds a byte size up to the pool's size class: 256-byte steps below 4 KiB, then powers of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, bytes);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  return 2 ** Math.ceil(Math.log2(b));
}

/** A pool of reusable buffers keyed by (usage, size class). */
export class BufferPool {
  #free = new Map<string, GPUBuffer[]>();
  #owned = new Set<GPUBuffer>();

  constructor(readonly device: GPUDevice) {}

  /** A buffer of at least `bytes` bytes with exactly `usage`; release it when done. */
  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.#free.get(`${usage}:${size}`);
    const reused = list?.pop();
    if (reused) {
      reused.label = label;
      return reused;
    }
    checkBufferSize(this.device, label, size);
    const buffer = this.device.createBuffer({ size, usage, label });
    this.#owned.add(buffer);
    return buffer;
  }

  /** Returns a buffer from acquire() to the pool. */
  release(buffer: GPUBuffer): void {
    if (!this.#owned.has(buffer)) {
      throw new Error(`Cannot release buffer '${buffer.label}': not from this pool`);
    }
    const key = `${buffer.usage}:${buffer.size}`;
    const list = this.#free.get(key) ?? [];
    list.push(buffer);
    this.#free.set(key, list);
  }

  /** Destroys every pooled buffer (free or not). */
  destroy(): void {
    for (const b of this.#owned) b.destroy();
    this.#owned.clear();
    this.#free.clear();
  }
}

/** Creates a labelled storage buffer, optionally filled with `data`. Size is rounded up to 4 bytes. */
export function createBuffer(
  device: GPUDevice,
  label: string,
  sizeOrData: number | ArrayBufferView,
  usage: number = STORAGE,
): GPUBuffer {
  const bytes = typeof sizeOrData === "number" ? sizeOrData : sizeOrData.byteLength;
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  checkBufferSize(device, label, size);
  if (typeof sizeOrData === "number") return device.createBuffer({ label, size, usage });
  const buffer = device.createBuffer({ label, size, usage, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(
    new Uint8Array(sizeOrData.buffer, sizeOrData.byteOffset, sizeOrData.byteLength),
  );
  buffer.unmap();
  return buffer;
}

/** Writes `data` into `buffer` at `offset` bytes through the queue (ordered before later submits). */
export function upload(device: GPUDevice, buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
  const padded = data.byteLength % 4 === 0 ? data : (() => {
    const p = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
    p.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return p;
  })();
  device.queue.writeBuffer(
    buffer,
    offset,
    padded.buffer as ArrayBuffer,
    padded.byteOffset,
    padded.byteLength,
  );
}
