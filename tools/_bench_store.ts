/**
 * Synthetic runs for the tracking and UI benchmarks: finished runs with 20 metrics and 20 params each, written
 * straight in the store's file formats (building thousands of runs through the API is not what they measure).
 */
import { join } from "node:path";
import { type FileStore, formatMetricLine, formatRunMeta } from "../src/tracking/mod.ts";

/** Writes `n` runs `run-0…` into experiment `expId`; run i starts at a fixed epoch + i·`spacingMs`. */
export function writeSyntheticRuns(store: FileStore, expId: string, n: number, spacingMs = 1): void {
  const expDir = join(store.root, expId);
  for (let i = 0; i < n; i++) {
    const runId = crypto.randomUUID().replaceAll("-", "");
    const dir = join(expDir, runId);
    for (const sub of ["metrics", "params", "tags", "artifacts"]) {
      Deno.mkdirSync(join(dir, sub), { recursive: true });
    }
    Deno.writeTextFileSync(
      join(dir, "meta.yaml"),
      formatRunMeta({
        runId,
        experimentId: expId,
        runName: `run-${i}`,
        userId: "bench",
        status: "FINISHED",
        startTime: 1795758701315 + i * spacingMs,
        endTime: 1795758801315 + i * spacingMs,
        artifactUri: `${store.trackingUri}/${expId}/${runId}/artifacts`,
        lifecycleStage: "active",
      }),
    );
    Deno.writeTextFileSync(join(dir, "tags", "mlflow.runName"), `run-${i}`);
    for (let m = 0; m < 20; m++) {
      Deno.writeTextFileSync(
        join(dir, "metrics", `m${m}`),
        formatMetricLine({ key: `m${m}`, value: Math.random() * 4, timestamp: 1795758701315, step: 0 }),
      );
      Deno.writeTextFileSync(join(dir, "params", `p${m}`), String(i % (m + 2)));
    }
  }
}
