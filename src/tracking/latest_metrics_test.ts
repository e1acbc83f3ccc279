import assert from "node:assert/strict";
import { join } from "node:path";
import { latestMetric, latestMetricAsync } from "./latest_metrics.ts";

for (
  const [name, read] of [["latestMetric", latestMetric], ["latestMetricAsync", latestMetricAsync]] as const
) {
  Deno.test(`${name} follows appends, waits for half-written lines and rereads a rewritten file`, async () => {
    const latestMetric = async (path: string, key: string) => await read(path, key);
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "loss");
      assert.equal(await latestMetric(path, "loss"), undefined, "no file yet");
      Deno.writeTextFileSync(path, "100 2.5 0\n101 2.0 1\n");
      assert.deepEqual(await latestMetric(path, "loss"), { key: "loss", value: 2, timestamp: 101, step: 1 });
      // An earlier step appended later does not win; a half-written line is not read yet.
      Deno.writeTextFileSync(path, "102 9.0 0\n103 1.5 2", { append: true });
      assert.equal((await latestMetric(path, "loss"))?.value, 2);
      Deno.writeTextFileSync(path, "\n", { append: true });
      assert.deepEqual(await latestMetric(path, "loss"), {
        key: "loss",
        value: 1.5,
        timestamp: 103,
        step: 2,
      });
      // Same step: the later timestamp, then the larger value, wins (MLflow's order).
      Deno.writeTextFileSync(path, "103 1.7 2\n104 1.2 2\n", { append: true });
      assert.equal((await latestMetric(path, "loss"))?.value, 1.2);
      // Rewritten shorter: read from the start again.
      Deno.writeTextFileSync(path, "5 7.0 0\n");
      assert.deepEqual(await latestMetric(path, "loss"), { key: "loss", value: 7, timestamp: 5, step: 0 });
      Deno.removeSync(path);
      assert.equal(await latestMetric(path, "loss"), undefined);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
