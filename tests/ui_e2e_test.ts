/**
 * The tracking UI end to end in a real headless Chromium (playwright-core, /usr/bin/chromium): a server on a
 * store with a few runs; filter (and a filter error), sort, keyboard, select two runs → Compare, open a run,
 * edit its note, view a chart, browse artifacts, watch a running run update live. Screenshots go to
 * test-output/ui/. Skips when Chromium is absent (CI installs it).
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import type { Page } from "playwright-core";
import { createServerApp, listen } from "../src/server/mod.ts";
import { CHROMIUM, haveChromium, launchChromium, SHOTS, watchedPage } from "./_browser.ts";
import { FileStore } from "../src/tracking/mod.ts";
import { writeRandomModel } from "../src/serve/testing.ts";

if (!haveChromium) console.warn(`ui e2e: skipped, ${CHROMIUM} not found (apt-get install chromium)`);

interface Fixture {
  dir: string;
  store: FileStore;
  expId: string;
  runs: { id: string; name: string; lr: number; loss: number }[];
  running: string;
}

async function fixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "ui_e2e_" });
  const store = new FileStore(`${dir}/mlruns`);
  const expId = await store.createExperiment("stories");
  const runs: Fixture["runs"] = [];
  const t0 = Date.now() - 3_600_000;
  const specs = [
    { name: "tiny-adamw", lr: 0.001, opt: "adamw", loss: 0.42 },
    { name: "tiny-sgd", lr: 0.1, opt: "sgd", loss: 1.9 },
    { name: "base-adamw", lr: 0.0003, opt: "adamw", loss: 0.31 },
    { name: "base-lion", lr: 0.0001, opt: "lion", loss: 0.77 },
    { name: "wide-adamw", lr: 0.002, opt: "adamw", loss: 0.55 },
  ];
  for (const [k, s] of specs.entries()) {
    const run = await store.createRun({ experimentId: expId, runName: s.name, startTime: t0 + k * 60_000 });
    const id = run.info.runId;
    await store.logBatch(id, {
      params: [{ key: "lr", value: String(s.lr) }, { key: "optimizer", value: s.opt }, {
        key: "layers",
        value: "4",
      }],
      tags: [{ key: "team", value: "ui" }],
    });
    const n = k === 0 ? 50_000 : 300;
    for (let i = 0; i < n; i += 1000) {
      const metrics = [];
      for (let j = i; j < Math.min(n, i + 1000); j++) {
        const v = s.loss + 3 * Math.exp(-j / (n / 5)) + (j === Math.floor(n / 2) ? 5 : 0);
        metrics.push({
          key: "loss",
          value: j === n - 1 ? s.loss : v,
          step: j,
          timestamp: t0 + k * 60_000 + j * 10,
        });
      }
      await store.logBatch(id, { metrics });
    }
    await store.logMetric(id, "val/loss", s.loss + 0.05, {
      step: n - 1,
      timestamp: t0 + k * 60_000 + n * 10,
    });
    if (k === 1) await store.setTag(id, "mlflow.note.content", "diverged: lr too high");
    await store.setTerminated(id, "FINISHED", t0 + k * 60_000 + n * 10 + 1000);
    runs.push({ id, name: s.name, lr: s.lr, loss: s.loss });
  }
  const live = await store.createRun({ experimentId: expId, runName: "live-run" });
  await store.logMetric(live.info.runId, "loss", 3.5, { step: 0 });
  await Deno.mkdir(`${dir}/art/samples`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/art/samples/step_300.jsonl`,
    JSON.stringify({ step: 300, prompt: "Once upon a time", text: " there was a small fox." }) + "\n",
  );
  await Deno.writeTextFile(`${dir}/art/config.yaml`, "model:\n  layers: 4\n");
  await writeRandomModel(`${dir}/art/model`, { seed: 5 }); // a logged model: the run page offers its export
  await store.logArtifacts(runs[0].id, `${dir}/art`);
  await store.setTag(runs[0].id, "mlflow.log-model.history", "[]");
  // A prompt as mlflow.genai.register_prompt leaves it: a registered model marked as one, its template in a tag.
  await store.createRegisteredModel("greeting", { tags: { "mlflow.prompt.is_prompt": "true" } });
  await store.createModelVersion("greeting", "dummy-source", {
    tags: { "mlflow.prompt.is_prompt": "true", "mlflow.prompt.text": "Hello {{name}}" },
  });
  return { dir, store, expId, runs, running: live.info.runId };
}

/** The server exactly as `storyteller ui` builds it; the UI's endpoints must not be shadowed by the API's. */
async function serverApp(root: string, _store: FileStore): Promise<Hono> {
  const app = createServerApp({ backendStoreUri: root, ui: true, artifactsDestination: null });
  const probe = await app.request("http://127.0.0.1/api/storyteller/changes?experiment_ids=0&since=-1");
  assert.notEqual(probe.status, 404, "createServerApp shadows /api/storyteller/*");
  await probe.body?.cancel();
  return app;
}

const rowNames = (page: Page) =>
  page.$$eval("tr[data-run-id] td:nth-child(2) a", (as) => as.map((a) => a.textContent));

Deno.test({
  name: "ui e2e: filter, sort, select → compare, open a run, edit its note, charts, artifacts, live update",
  ignore: !haveChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const fx = await fixture();
    const app = await serverApp(`${fx.dir}/mlruns`, fx.store);
    const srv = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "ui e2e" });
    const browser = await launchChromium();
    const errors: string[] = [];
    try {
      await Deno.mkdir(SHOTS, { recursive: true });
      const page = await watchedPage(browser, { width: 1400, height: 900 }, errors);
      await page.goto(`${srv.url}/#/experiments/${fx.expId}`);
      await page.waitForSelector("tr[data-run-id]");
      await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 6);
      // note icon on the run with a note
      assert.equal(await page.locator("tr[data-run-id] .note-icon").count(), 1);

      // filter: same grammar as `runs search`; a typo shows the error at its column
      await page.keyboard.press("/");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "filter");
      await page.keyboard.type("metrix.loss < 1");
      await page.keyboard.press("Enter"); // applied on Enter, as in MLflow
      await page.waitForSelector(".filter-error");
      assert.match(await page.textContent(".filter-error") ?? "", /Invalid entity type 'metrix'.*column 1/s);
      await page.fill("#filter", "metrics.loss < 0.6 AND params.optimizer = 'adamw'");
      await page.press("#filter", "Enter");
      await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 3);
      assert.equal(await page.locator(".filter-error").count(), 0);
      assert.match(page.url(), /q=metrics\.loss/);

      // sort by loss ascending (first click on a metric sorts descending, second ascending)
      await page.click('th[data-column="metric:loss"]');
      await page.click('th[data-column="metric:loss"]');
      await page.waitForFunction(() => document.querySelector("th.sorted.asc") !== null);
      assert.deepEqual(await rowNames(page), ["base-adamw", "tiny-adamw", "wide-adamw"]);
      assert.match(page.url(), /sort=%2Bmetric%3Aloss|sort=\+metric/);
      await page.screenshot({ path: `${SHOTS}/runs_table.png` });

      // the URL is the state: reloading keeps filter and sort
      await page.reload();
      await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 3);
      assert.deepEqual(await rowNames(page), ["base-adamw", "tiny-adamw", "wide-adamw"]);

      // select two runs → Compare
      const boxes = page.locator("tr[data-run-id] td.check input");
      await boxes.nth(0).click();
      await boxes.nth(1).click();
      await page.click("#compare");
      await page.waitForSelector(".compare-page table.params");
      assert.equal(await page.locator("table.params thead th").count(), 3);
      const paramRows = await page.locator("table.params tbody tr").count();
      await page.click("#diff-only");
      await page.waitForFunction(
        (n) => document.querySelectorAll("table.params tbody tr").length < n,
        paramRows,
      );
      assert.deepEqual(
        await page.$$eval("table.params tbody td:first-child", (t) => t.map((x) => x.textContent)),
        ["lr"],
      );
      await page.waitForSelector('.compare-page .chart-plot[data-metric="loss"][data-rendered] canvas');
      await page.screenshot({ path: `${SHOTS}/compare.png`, fullPage: true });

      // keyboard: back to the table, arrows + Enter open a run
      await page.goto(`${srv.url}/#/experiments/${fx.expId}?sort=%2Bmetric%3Aloss`);
      await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 6);
      await page.focus(".runs-scroller");
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("Enter");
      await page.waitForSelector(".run-page #run-id");
      const opened = await page.textContent("#run-id");
      assert.equal(opened, fx.runs[0].id, "second-lowest loss is tiny-adamw");

      // edit the note: markdown rendered, raw HTML shown as text
      await page.click("#note-edit");
      await page.fill("#note-editor", "## Findings\n**stable** run <script>window.__pwned = 1</script>");
      await page.click("#note-save");
      await page.waitForSelector(".markdown strong");
      assert.equal(await page.textContent(".markdown strong"), "stable");
      assert.equal(await page.locator(".markdown script").count(), 0);
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
        undefined,
      );
      assert.match((await fx.store.getRun(opened!)).data.tags["mlflow.note.content"], /\*\*stable\*\*/);

      // a 50,000-point metric as a downsampled chart that keeps the spike
      await page.waitForSelector('.chart-plot[data-metric="loss"][data-rendered] canvas');
      const status = await page.getAttribute('.chart-plot[data-metric="loss"]', "data-status");
      assert.match(status ?? "", /of 50,000 points/);

      // the logged model downloads as GGUF from the run page
      const gguf = await page.getAttribute('[data-export] a[href*="format=gguf"]', "href");
      const got = await page.request.get(`${srv.url}${gguf}`);
      assert.equal(got.status(), 200);
      assert.equal(new TextDecoder().decode((await got.body()).subarray(0, 4)), "GGUF");

      // artifacts: tree, preview of story samples
      await page.click("text=samples/");
      await page.click("text=step_300.jsonl");
      await page.waitForSelector(".sample");
      assert.match(await page.textContent(".sample p") ?? "", /Once upon a time there was a small fox/);
      await page.screenshot({ path: `${SHOTS}/run_page.png`, fullPage: true });

      // register the run's model, then find it in the registry with a link back to the run
      await page.fill('input[placeholder="model name"]', "tiny-stories");
      await page.fill('input[placeholder="artifact path"]', "samples");
      await page.click("#register");
      await page.waitForSelector(".banner, #registered");
      if (await page.locator(".banner").count()) {
        assert.fail(`registering failed: ${await page.textContent(".banner")}`);
      }
      assert.match(await page.textContent("#registered") ?? "", /registered tiny-stories version 1/);
      await page.goto(`${srv.url}/#/models`);
      // prompts are marked as prompts, and show their template
      await page.waitForSelector('.models-page tr:has(a:text("greeting")) [data-prompt]');
      assert.equal(
        await page.locator('.models-page tr:has(a:text("tiny-stories")) [data-prompt]').count(),
        0,
      );
      await page.click("text=greeting");
      assert.equal(await page.textContent('.model-page [data-prompt-version="1"]'), "Hello {{name}}");
      await page.goto(`${srv.url}/#/models`);
      await page.click("text=tiny-stories");
      await page.waitForSelector(`.model-page a[href="#/runs/${opened}"]`);
      await page.waitForSelector(`.model-page [data-export="${opened}"]`);

      // scatter and parallel coordinates from URL state
      const pair = `${fx.runs[0].id},${fx.runs[1].id},${fx.runs[2].id}`;
      await page.goto(
        `${srv.url}/#/compare?runs=${pair}&sx=param%3Alr&sy=metric%3Aloss&pc=param%3Alr,param%3Aoptimizer&pt=metric%3Aloss`,
      );
      await page.waitForSelector(".parallel svg polyline");
      assert.equal(await page.locator(".parallel svg polyline").count(), 3);
      assert.match(await page.textContent(".compare-page") ?? "", /3 runs/);
      await page.screenshot({ path: `${SHOTS}/compare_scatter_parallel.png`, fullPage: true });

      // live: a running run's new metric shows up in the table without a reload, selection kept
      await page.goto(`${srv.url}/#/experiments/${fx.expId}?cols=metric%3Aloss&sel=${fx.running}`);
      const cell = `tr[data-run-id="${fx.running}"] td:nth-child(6)`;
      await page.waitForSelector(cell);
      assert.equal(await page.textContent(cell), "3.5");
      await fx.store.logMetric(fx.running, "loss", 2.25, { step: 1 });
      await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "2.25", cell, {
        timeout: 10_000,
      });
      assert.equal(await page.locator(`tr[data-run-id="${fx.running}"].selected`).count(), 1);

      // charts tab of the experiment
      await page.click("text=Charts");
      await page.waitForSelector('.chart-plot[data-metric="loss"][data-rendered] canvas');
      await page.screenshot({ path: `${SHOTS}/charts.png`, fullPage: true });

      // live charts: a tag change re-fetches no chart; a new point re-fetches the chart of its metric
      const seriesRequests: string[] = [];
      page.on("request", (r) => {
        if (r.url().includes("/metric-series")) seriesRequests.push(r.url());
      });
      const changed = () =>
        page.waitForResponse(
          async (r) => r.url().includes("/api/storyteller/changes") && (await r.json()).runs?.length > 0,
          { timeout: 10_000 },
        );
      const tagSeen = changed();
      await fx.store.setTag(fx.running, "phase", "warmup");
      await tagSeen;
      await new Promise((r) => setTimeout(r, 300)); // the merged runs render
      assert.deepEqual(seriesRequests, []);
      const before = await page.getAttribute('.chart-plot[data-metric="loss"]', "data-rendered");
      await fx.store.logMetric(fx.running, "loss", 1.5, { step: 2 });
      await page.waitForFunction(
        (b) => document.querySelector('.chart-plot[data-metric="loss"]')?.getAttribute("data-rendered") !== b,
        before,
        { timeout: 10_000 },
      );
      assert.equal(seriesRequests.length, 1, seriesRequests.join("\n"));
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await srv.shutdown();
      await Deno.remove(fx.dir, { recursive: true });
    }
  },
});
