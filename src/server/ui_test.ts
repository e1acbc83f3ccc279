import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStore } from "../tracking/mod.ts";
import { uiApp } from "./ui.ts";

async function withStore(f: (store: FileStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ui_test_" });
  try {
    await f(new FileStore(`${dir}/mlruns`), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function logSeries(store: FileStore, runId: string, key: string, values: number[], from = 0) {
  for (let i = 0; i < values.length; i += 1000) {
    const metrics = values.slice(i, i + 1000).map((value, k) => ({
      key,
      value,
      step: from + i + k,
      timestamp: 1_700_000_000_000 + from + i + k,
    }));
    await store.logBatch(runId, { metrics });
  }
}

Deno.test("ui: the shell loads the bundle as files (CSP-safe) and assets revalidate by ETag", async () => {
  await withStore(async (store) => {
    const app = uiApp({ client: store });
    const res = await app.request("/");
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<script type="module" src="\/static\/app\.js\?v=[0-9a-f]+"><\/script>/);
    assert.ok(!/<script>[^<]/.test(html), "no inline script");
    assert.match(res.headers.get("Content-Security-Policy") ?? "", /script-src 'self'/);
    const js = await app.request("/static/app.js");
    assert.equal(js.status, 200);
    assert.match(js.headers.get("Content-Type")!, /javascript/);
    assert.ok((await js.text()).length > 10_000);
    const again = await app.request("/static/app.js", {
      headers: { "If-None-Match": js.headers.get("ETag")! },
    });
    assert.equal(again.status, 304);
    assert.equal((await app.request("/static/nope.js")).status, 404);
  });
});

Deno.test("ui: metric-series downsamples, keeps spikes, zooms, and follows appended points", async () => {
  await withStore(async (store) => {
    const run = await store.createRun({ runName: "r" });
    const id = run.info.runId;
    const values = Array.from({ length: 20_000 }, (_, i) => 1 + Math.sin(i / 300) * 0.1);
    values[12_345] = 99;
    await logSeries(store, id, "train/loss", values);
    const app = uiApp({ client: store });
    const get = async (q: string) => {
      const res = await app.request(`/api/storyteller/metric-series?${q}`);
      return { status: res.status, body: await res.json() };
    };
    const r1 = await get(`run_id=${id}&key=train/loss&points=200`);
    assert.equal(r1.status, 200);
    const s = r1.body.series[0];
    assert.equal(s.total, 20_000);
    assert.ok(s.x.length <= 200 * 4 + 2, `${s.x.length} points`);
    assert.ok(s.y.includes(99), "the spike survives");
    assert.equal(s.x[s.y.indexOf(99)], 12_345);
    // zoom: only the window (plus one point each side), at full resolution when small
    const z = (await get(`run_id=${id}&key=train/loss&points=500&min=100&max=199`)).body.series[0];
    assert.equal(z.in_range, 100);
    assert.deepEqual([z.x[0], z.x.at(-1)], [99, 200]);
    // wall-time axis
    const t = (await get(`run_id=${id}&key=train/loss&x=time&points=10`)).body;
    assert.equal(t.x_axis, "time");
    assert.equal(t.series[0].x_min, 1_700_000_000_000);
    // appended points show up (the cache reads only the tail)
    await logSeries(store, id, "train/loss", [5, NaN, 7], 20_000);
    const more = (await get(`run_id=${id}&key=train/loss&min=19999`)).body.series[0];
    assert.equal(more.total, 20_003);
    assert.deepEqual(more.y, [values[19_998], values[19_999], 5, null, 7]); // one point before the window
    // a metric file replaced by another (new inode, more bytes) is read again from its start
    const file = join(store.locateRun(id).runDir, "metrics", "train", "loss");
    const lines = Array.from({ length: 30_000 }, (_, i) => `${1_700_000_000_000 + i} ${i % 7} ${i}`);
    const replace = (text: string) => {
      Deno.writeTextFileSync(`${file}.new`, text);
      Deno.renameSync(`${file}.new`, file);
    };
    replace(lines.join("\n") + "\n");
    const replaced = (await get(`run_id=${id}&key=train/loss&min=29998`)).body.series[0];
    assert.equal(replaced.total, 30_000);
    assert.deepEqual(replaced.y, [29_997 % 7, 29_998 % 7, 29_999 % 7]);
  });
});

Deno.test("ui: metric-series skips no line silently and rounds no step", async () => {
  await withStore(async (store, dir) => {
    const id = (await store.createRun({})).info.runId;
    await store.logMetric(id, "loss", 1, { step: 0, timestamp: 1 });
    const app = uiApp({ client: store });
    const file = join(store.locateRun(id).runDir, "metrics", "loss");
    const get = async () => {
      const res = await app.request(`/api/storyteller/metric-series?run_id=${id}&key=loss`);
      return { status: res.status, body: await res.json() };
    };
    for (
      const bad of ["garbage line here", "1700000000000 1 2 3", "1 abc 2", "1 2 9007199254740993", "1.5 2 3"]
    ) {
      Deno.writeTextFileSync(file, `1 1 0\n2 2 1\n${bad}\n3 3 2\n`);
      const r = await get();
      assert.equal(r.status, 500, bad);
      assert.equal(r.body.error_code, "INTERNAL_ERROR");
      assert.match(r.body.message, /line 3 is malformed/);
      assert.ok(!r.body.message.includes(bad) && !r.body.message.includes(dir), r.body.message);
    }
    // a torn last line (a writer that crashed) is not a point; blank lines are not either
    Deno.writeTextFileSync(file, "1 1 0\n\n2 2 1\n10001000000000");
    const ok = await get();
    assert.equal(ok.status, 200);
    assert.deepEqual([ok.body.series[0].x, ok.body.series[0].y], [[0, 1], [1, 2]]);
  });
});

Deno.test("ui: metric-series errors are MLflow-shaped", async () => {
  await withStore(async (store) => {
    const run = await store.createRun({});
    const app = uiApp({ client: store });
    const err = async (q: string, status: number, re: RegExp) => {
      const res = await app.request(`/api/storyteller/metric-series?${q}`);
      assert.equal(res.status, status, q);
      const j = await res.json();
      assert.match(j.message, re);
      assert.ok(j.error_code);
    };
    await err("key=loss", 400, /run_id and key are required/);
    await err(`run_id=${run.info.runId}&key=../../meta.yaml`, 400, /Invalid value/);
    await err(`run_id=${run.info.runId}&key=loss&min=abc`, 400, /not a number/);
    await err(`run_id=0123456789abcdef0123456789abcdef&key=loss`, 404, /./);
    // a metric the run never logged is an empty series (charts over runs that lack it stay quiet)
    const none = await app.request(`/api/storyteller/metric-series?run_id=${run.info.runId}&key=never`);
    assert.equal(none.status, 200);
    assert.deepEqual((await none.json()).series[0].x, []);
  });
});

Deno.test("ui: changes returns only the runs changed since a version", async () => {
  await withStore(async (store) => {
    const a = await store.createRun({ runName: "a" });
    const b = await store.createRun({ runName: "b" });
    const app = uiApp({ client: store });
    const poll = async (since: number) => {
      await new Promise((r) => setTimeout(r, 800)); // past the scan-reuse window
      return await (await app.request(`/api/storyteller/changes?experiment_ids=0&since=${since}`)).json();
    };
    const v0 = await poll(-1);
    assert.deepEqual(v0.runs, []);
    assert.ok(v0.version > 0 && v0.epoch);
    const quiet = await poll(v0.version);
    assert.deepEqual([quiet.runs.length, quiet.version], [0, v0.version]);
    await store.logMetric(a.info.runId, "loss", 1.5, { step: 3 });
    const c1 = await poll(v0.version);
    assert.deepEqual(c1.runs.map((r: { info: { run_id: string } }) => r.info.run_id), [a.info.runId]);
    assert.equal(c1.runs[0].data.metrics[0].value, 1.5);
    await store.setTag(b.info.runId, "mlflow.note.content", "hello");
    await store.deleteRun(a.info.runId);
    const c2 = await poll(c1.version);
    assert.deepEqual(c2.runs.map((r: { info: { run_name: string } }) => r.info.run_name).sort(), ["a", "b"]);
    await store.logInputs(b.info.runId, {
      datasets: [{
        dataset: { name: "stories", digest: "5d41402a", sourceType: "local", source: "{}" },
        tags: { "mlflow.data.context": "training" },
      }],
    });
    const c3 = await poll(c2.version);
    assert.deepEqual(
      c3.runs.map((r: { info: { run_name: string } }) => r.info.run_name),
      ["b"],
      "new inputs",
    );
    assert.equal((await app.request("/api/storyteller/changes?since=1")).status, 400);
    // ids are experiment ids, not paths: `./0` would be another cache entry for the same experiment
    for (const ids of ["./0", "././0", "0/..", "../../x/mlruns/0"]) {
      const res = await app.request(
        `/api/storyteller/changes?experiment_ids=${encodeURIComponent(ids)}&since=-1`,
      );
      assert.equal(res.status, 400, ids);
      assert.equal((await res.json()).error_code, "INVALID_PARAMETER_VALUE");
    }
    assert.equal((await app.request("/api/storyteller/changes?experiment_ids=0,0&since=-1")).status, 200);
    assert.equal((await app.request("/api/storyteller/changes?experiment_ids=0&since=x")).status, 400);
  });
});

Deno.test("ui: artifact downloads are validated; HTML and SVG never render inline", async () => {
  await withStore(async (store, dir) => {
    const run = await store.createRun({});
    const id = run.info.runId;
    await Deno.mkdir(`${dir}/art/samples`, { recursive: true });
    await Deno.writeTextFile(`${dir}/art/samples/step_100.txt`, "Once upon a time");
    await Deno.writeTextFile(`${dir}/art/evil.html`, "<script>alert(1)</script>");
    await Deno.writeTextFile(`${dir}/art/pic.svg`, "<svg/>");
    await Deno.writeTextFile(`${dir}/art/big.txt`, "x".repeat(600 * 1024));
    await store.logArtifacts(id, `${dir}/art`);
    const app = uiApp({ client: store });
    const get = (path: string, extra = "") =>
      app.request(`/api/storyteller/artifact?run_id=${id}&path=${encodeURIComponent(path)}${extra}`);
    const txt = await get("samples/step_100.txt");
    assert.equal(txt.status, 200);
    assert.match(txt.headers.get("Content-Type")!, /text\/plain/);
    assert.equal(await txt.text(), "Once upon a time");
    for (const p of ["evil.html", "pic.svg"]) {
      const r = await get(p);
      assert.match(r.headers.get("Content-Disposition")!, /^attachment/);
      assert.equal(r.headers.get("Content-Type"), "application/octet-stream");
      assert.equal(r.headers.get("X-Content-Type-Options"), "nosniff");
      await r.body?.cancel();
    }
    const dl = await get("samples/step_100.txt", "&download=1");
    assert.match(dl.headers.get("Content-Disposition")!, /^attachment; filename\*=UTF-8''step_100\.txt/);
    await dl.body?.cancel();
    const big = await get("big.txt", "&preview=1");
    assert.equal((await big.arrayBuffer()).byteLength, 512 * 1024);
    assert.equal(big.headers.get("X-Storyteller-Truncated"), String(600 * 1024));
    assert.equal((await get("../meta.yaml")).status, 400);
    assert.equal((await get("missing.txt")).status, 404);
    assert.equal((await get("samples")).status, 400);
  });
});
