/** Test helper process: logs into a shared store (`concurrent`) or logs until killed (`crash`). */
import { AsyncLogger, getOrCreateExperiment, openTracking } from "../mod.ts";

const [root, mode, sharedRunId, nStr] = Deno.args;
const n = Number(nStr);
const client = openTracking(root);
const expId = await getOrCreateExperiment(client, "concurrent");
const run = await client.createRun({ experimentId: expId, runName: `worker-${Deno.pid}` });
const id = run.info.runId;
if (mode === "concurrent") {
  const logger = new AsyncLogger(client, id, { flushIntervalMs: 5 });
  logger.logParam("pid", Deno.pid);
  for (let i = 0; i < n; i++) logger.logMetric("train/loss", 1 / (i + 1), i);
  await logger.close();
  // Everyone appends to the same metric file of the shared run, in batches, and sets the same tag.
  for (let b = 0; b < n; b += 100) {
    const metrics = Array.from(
      { length: Math.min(100, n - b) },
      (_, k) => ({ key: "shared", value: Deno.pid, timestamp: Date.now(), step: b + k }),
    );
    await client.logBatch(sharedRunId, { metrics, tags: [{ key: "last_writer", value: String(Deno.pid) }] });
  }
  await client.setTerminated(id);
} else {
  console.log(id);
  const logger = new AsyncLogger(client, id, { flushIntervalMs: 1 });
  for (let step = 0;; step++) {
    logger.logMetric("loss", Math.random(), step);
    if (step % 50 === 0) {
      await client.setTag(id, "progress", String(step));
      await client.updateRun(id, { runName: `crash-${step}` });
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}
