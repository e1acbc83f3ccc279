/**
 * The tracking store on real failing file systems (issue 15): a full tmpfs and a read-only bind mount. Mounting
 * needs root (CI and the dev machines run as root); elsewhere these tests are ignored with that reason.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp } from "../src/server/mod.ts";
import { FileStore } from "../src/tracking/mod.ts";

async function sh(...args: string[]): Promise<boolean> {
  const out = await new Deno.Command(args[0], { args: args.slice(1), stdout: "null", stderr: "null" })
    .output();
  return out.success;
}

/** Whether this process may mount a tmpfs (tried once, undone at once). */
const canMount = await (async () => {
  if (Deno.build.os !== "linux") return false;
  const probe = await Deno.makeTempDir({ prefix: "st-mount-probe-" });
  try {
    const ok = await sh("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", probe);
    if (ok) await sh("umount", probe);
    return ok;
  } catch {
    return false;
  } finally {
    await Deno.remove(probe, { recursive: true }).catch(() => {});
  }
})();
const why = canMount ? "" : " (ignored: mounting a tmpfs needs root on Linux)";

/** A `kib` KiB tmpfs at a fresh directory; `fill()` uses up its space; `done()` unmounts. */
async function tmpfs(kib: number) {
  const dir = await Deno.makeTempDir({ prefix: "st-fs-" });
  assert.ok(await sh("mount", "-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir), "mount tmpfs");
  return {
    dir,
    async fill() {
      const f = await Deno.open(join(dir, "ballast"), { write: true, create: true });
      try {
        const block = new Uint8Array(4096);
        for (;;) await f.write(block);
      } catch {
        /* the disk is full */
      } finally {
        f.close();
      }
    },
    async free() {
      await Deno.remove(join(dir, "ballast"));
    },
    async done() {
      await sh("umount", dir);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test({
  name:
    "a full disk: a failed metric append leaves no partial line, and logging works again once space is freed" +
    why,
  ignore: !canMount,
  fn: async () => {
    const fs = await tmpfs(256);
    try {
      const store = new FileStore(join(fs.dir, "mlruns"));
      const run = await store.createRun({});
      const id = run.info.runId;
      await store.logMetric(id, "loss", 1.5, { step: 1, timestamp: 1000 });
      await fs.fill();
      // The metric file's last page still has room: append until the disk refuses, then a few more times.
      let failures = 0;
      let last = 1;
      for (let i = 2; i < 5000 && failures < 5; i++) {
        const ok = await store.logMetric(id, "loss", i, { step: i, timestamp: 1000 + i }).then(
          () => true,
          () => false,
        );
        if (ok) last = i;
        else failures++;
      }
      assert.equal(failures, 5, "the full disk refused appends");
      await fs.free();
      await store.logMetric(id, "loss", 99_999, { step: 99_999, timestamp: 9999 });
      const history = await store.getMetricHistory(id, "loss");
      // Whole points only, each as logged: none lost before the disk filled, none glued onto a torn line (a step
      // like 10001000000000192), none invented; the point after the space came back reads whole.
      const want = [1.5, ...Array.from({ length: last - 1 }, (_, k) => k + 2), 99_999];
      assert.deepEqual(history.map((m) => m.value), want);
    } finally {
      await fs.done();
    }
  },
});

Deno.test({
  name: "a full disk: a multi-key batch lands whole or not at all, so the caller's retry duplicates nothing" +
    why,
  ignore: !canMount,
  fn: async () => {
    const fs = await tmpfs(256);
    try {
      const store = new FileStore(join(fs.dir, "mlruns"));
      const id = (await store.createRun({})).info.runId;
      const keys = ["train/loss", "train/lr", "train/grad_norm"];
      const batch = (step: number) => ({
        // Short lines for the first key, long ones after it: a later key's file runs out of room first, after the
        // first key's append of the same batch went through.
        metrics: keys.map((key, k) => ({
          key,
          value: k === 0 ? step : step + k / 7,
          step,
          timestamp: 1000 + step,
        })),
      });
      await store.logBatch(id, batch(0));
      await fs.fill();
      const landed = [0];
      let failures = 0;
      for (let step = 1; step < 5000 && failures < 5; step++) {
        if (await store.logBatch(id, batch(step)).then(() => true, () => false)) landed.push(step);
        else failures++;
      }
      assert.equal(failures, 5);
      for (const key of keys) {
        const steps = (await store.getMetricHistory(id, key)).map((m) => m.step);
        assert.deepEqual(steps, landed, `${key}: exactly the batches that were acknowledged`);
      }
    } finally {
      await fs.done();
    }
  },
});

Deno.test({
  name: "a read-only store: reads answer, writes get a clean 500 without paths" + why,
  ignore: !canMount,
  fn: async () => {
    const src = await Deno.makeTempDir({ prefix: "st-ro-src-" });
    const ro = await Deno.makeTempDir({ prefix: "st-ro-" });
    const root = join(ro, "mlruns");
    try {
      const run = await new FileStore(join(src, "mlruns")).createRun({});
      assert.ok(await sh("mount", "--bind", src, ro), "bind mount");
      assert.ok(await sh("mount", "-o", "remount,bind,ro", ro), "read-only remount");
      const app = createServerApp({ backendStoreUri: root, artifactsDestination: null });
      const get = await app.request(`/api/2.0/mlflow/runs/get?run_id=${run.info.runId}`);
      assert.equal(get.status, 200);
      const logged: string[] = [];
      const error = console.error;
      console.error = (...a: unknown[]) => logged.push(a.join(" "));
      let res: Response;
      try {
        res = await app.request("/api/2.0/mlflow/runs/log-metric", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ run_id: run.info.runId, key: "loss", value: 1, timestamp: 1, step: 0 }),
        });
      } finally {
        console.error = error;
      }
      const body = await res.json();
      assert.equal(res.status, 500);
      assert.equal(body.error_code, "INTERNAL_ERROR");
      assert.match(body.message, /read-only/);
      assert.ok(!body.message.includes(ro) && !body.message.includes(src), body.message);
      assert.ok(logged.length >= 1 && logged.every((l) => !l.includes("\n")), logged.join("|"));
    } finally {
      await sh("umount", ro);
      await Deno.remove(ro, { recursive: true }).catch(() => {});
      await Deno.remove(src, { recursive: true }).catch(() => {});
    }
  },
});
