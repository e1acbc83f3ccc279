/**
 * The adapter's size limits, checked where buffers are created and bound, so a model or batch too large for the GPU
 * fails once, before any work, naming the buffer, its size and the limit — rather than as a stream of WebGPU
 * validation errors about invalid buffers. Not the place for memory budgeting (the trainer's --dry-run estimate).
 */
import { UsageError } from "../errors.ts";

const HINT =
  "lower training.batch_size or model.max_seq_len (activations grow with both) or the model's sizes, " +
  "or use a GPU with larger limits (`storyteller gpu` lists them)";

/** Bytes in a readable unit, with the exact count (a limit is often one byte under a round size). */
export function formatSize(bytes: number): string {
  const exact = `${bytes.toLocaleString("en-US")} bytes`;
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB (${exact})`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB (${exact})`;
  return exact;
}

/** A buffer or binding larger than the adapter allows. */
export class GpuLimitError extends UsageError {
  constructor(message: string) {
    super(message, { hint: HINT });
    this.name = "GpuLimitError";
  }
}

/** Throws unless a buffer of `size` bytes fits the device's maxBufferSize. */
export function checkBufferSize(device: GPUDevice, label: string, size: number): void {
  const max = device.limits.maxBufferSize;
  if (size > max) {
    throw new GpuLimitError(
      `Cannot create GPU buffer '${label}' of ${formatSize(size)}: this adapter allows at most ` +
        `${formatSize(max)} per buffer (maxBufferSize)`,
    );
  }
}

/** Throws unless a binding of `bytes` of buffer `buffer` fits the device's limit for its kind of binding. */
export function checkBindingSize(device: GPUDevice, buffer: GPUBuffer, bytes: number, where: string): void {
  const storage = (buffer.usage & GPUBufferUsage.STORAGE) !== 0;
  const max = storage ? device.limits.maxStorageBufferBindingSize : device.limits.maxUniformBufferBindingSize;
  if (bytes > max) {
    const name = storage ? "maxStorageBufferBindingSize" : "maxUniformBufferBindingSize";
    throw new GpuLimitError(
      `Cannot bind GPU buffer '${buffer.label}' (${
        formatSize(bytes)
      }) to ${where}: this adapter binds at most ` +
        `${formatSize(max)} at once (${name})`,
    );
  }
}
