/** WebGPU runtime: device, buffers, pipeline cache, command batching, asynchronous readback, profiling. */
export {
  type AdapterSummary,
  adapterSummary,
  closeGpu,
  type DevicePreference,
  type Gpu,
  GpuError,
  openGpu,
  REQUESTED_LIMITS,
  sharedGpu,
  summarize,
} from "./device.ts";
export { BufferPool, createBuffer, sizeClass, STORAGE, upload } from "./pool.ts";
export {
  bindGroup,
  type Binding,
  bindingBytes,
  type Constants,
  type Kernel,
  PipelineCache,
} from "./pipelines.ts";
export {
  defineStruct,
  type FieldLayout,
  packStruct,
  type StructFields,
  type StructLayout,
  type StructValues,
  typeLayout,
  type WgslType,
} from "./struct.ts";
export { checkedGrid, CommandBatch, drain, Profiler, readBuffer } from "./batch.ts";
export {
  tuningCachePath,
  type TuningCacheRef,
  type TuningRequest,
  type TuningResult,
  TuningTable,
} from "./tuning.ts";
