/** Host-time counters of the inference engine (what tools/bench_serve.ts prints as CPU ms per decode step). */

/** Host time the engine spent, split as src/train/bench.ts does: recording (encoding, bind groups, uniforms)
 * before queue.submit, and inside submit (a CPU adapter like lavapipe runs the work right there). */
export interface EngineStats {
  /** Decode chunks submitted and the decode steps they held. */
  chunks: number;
  steps: number;
  /** Host ms recording decode chunks / inside their submits. */
  chunkRecordMs: number;
  chunkSubmitMs: number;
  /** Prefill passes and their host ms (recording / submit). */
  prefills: number;
  prefillRecordMs: number;
  prefillSubmitMs: number;
  /** Dispatches recorded by decode chunks. */
  chunkDispatches: number;
}

/** Zeroed stats. */
export function emptyStats(): EngineStats {
  return {
    chunks: 0,
    steps: 0,
    chunkRecordMs: 0,
    chunkSubmitMs: 0,
    prefills: 0,
    prefillRecordMs: 0,
    prefillSubmitMs: 0,
    chunkDispatches: 0,
  };
}
