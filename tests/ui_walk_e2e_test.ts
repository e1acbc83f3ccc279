/**
 * The tracking UI walked as a daily user (issue 17) in headless Chromium: select-all → Compare on hundreds of
 * runs, log-scale and scatter axis labels, zoom + smoothing, Compare… from a run page, unknown and deleted
 * experiments and runs, the filter applied on Enter, Register twice, remembered views, stable run colours,
 * parallel-coordinates defaults and brushing, error banners, onboarding, titles, dark mode. Every page must
 * leave the console clean. Screenshots go to test-output/ui/walk_*.png.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { createServerApp, listen } from "../src/server/mod.ts";
import { haveChromium, launchChromium, SHOTS, watchedPage } from "./_browser.ts";
import { FileStore, type Metric } from "../src/tracking/mod.ts";
import { writeSyntheticRuns } from "../tools/_bench_store.ts";

const BULK = 600;

async function fixture(dir: string) {
  const store = new FileStore(`${dir}/mlruns`);
  const sweep = await store.createExperiment("sweep");
  const t0 = Date.now() - 3_600_000;
  const ids: string[] = [];
  for (let k = 0; k < 6; k++) {
    const lr = 0.001 + k * 0.0005;
    const run = await store.createRun({
      experimentId: sweep,
      runName: `lr-${k + 1}`,
      startTime: t0 + k * 1000,
    });
    const id = run.info.runId;
    await store.logBatch(id, {
      params: [{ key: "lr", value: String(lr) }, { key: "layers", value: "4" }, { key: "seed", value: "1" }],
    });
    const metrics: Metric[] = [];
    for (let s = 0; s < 50; s++) {
      const ts = t0 + k * 1000 + s * 10;
      metrics.push({
        key: "loss",
        value: 10 * Math.exp(-s / 10) + 0.5 + (s % 3) * 0.3,
        step: s,
        timestamp: ts,
      });
      metrics.push({ key: "train/grad_norm", value: 1 + Math.sin(s), step: s, timestamp: ts });
    }
    metrics.push({ key: "val/loss", value: 3 - k * 0.2, step: 49, timestamp: t0 + k * 1000 + 500 });
    await store.logBatch(id, { metrics });
    await Deno.mkdir(`${dir}/art/model`, { recursive: true });
    await Deno.writeTextFile(`${dir}/art/model/weights.bin`, "w");
    await store.logArtifacts(id, `${dir}/art`);
    await store.setTerminated(id, "FINISHED", t0 + k * 1000 + 900);
    ids.push(id);
  }
  await store.deleteRun(ids[5]);
  const gone = await store.createExperiment("gone");
  await store.deleteExperiment(gone);
  const empty = await store.createExperiment("empty");
  const bulk = await store.createExperiment("bulk");
  writeSyntheticRuns(store, bulk, BULK, 1000, 0);
  return { sweep, ids, gone, empty, bulk };
}

const count = (page: Page) => page.locator("tr[data-run-id]").count();
const hexToRgb = (h: string) =>
  `rgb(${parseInt(h.slice(1, 3), 16)}, ${parseInt(h.slice(3, 5), 16)}, ${parseInt(h.slice(5, 7), 16)})`;

Deno.test({
  name:
    "ui walk (issue 17): large compare, axes, zoom+smoothing, not-found, deleted, filter on Enter, register",
  ignore: !haveChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ui_walk_e2e_" });
    const tf = performance.now();
    const fx = await fixture(dir);
    console.log(`fixture: ${Math.round(performance.now() - tf)} ms`);
    const app = createServerApp({ backendStoreUri: `${dir}/mlruns`, ui: true, artifactsDestination: null });
    const srv = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "ui walk e2e" });
    const browser = await launchChromium();
    const errors: string[] = [];
    try {
      await Deno.mkdir(SHOTS, { recursive: true });
      const page = await watchedPage(browser, { width: 1440, height: 900 }, errors);
      const sweepUrl = `${srv.url}/#/experiments/${fx.sweep}`;

      // 15, 10: default columns show the param that differs (lr), not the constant ones; pinned check/name
      // columns; a colour swatch per run; no cursor outline while the table is not focused
      await page.goto(sweepUrl);
      await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 5);
      const cols = await page.$$eval("th[data-column]", (t) => t.map((x) => x.getAttribute("data-column")));
      assert.ok(cols.includes("param:lr") && !cols.includes("param:layers"), cols.join(" "));
      assert.equal(await page.locator("tr[data-run-id] .swatch").count(), 5);
      await page.waitForFunction(() => document.title === "sweep · storyteller"); // once the name is known
      assert.equal(
        await page.$eval("tr.cursor", (tr) => getComputedStyle(tr).outlineStyle),
        "none",
        "no outline on row 0 when nothing is focused",
      );
      await page.setViewportSize({ width: 700, height: 900 });
      await page.$eval(".runs-scroller", (s) => (s.scrollLeft = 400));
      const pinned = await page.$eval(".runs-scroller", (s) => {
        const name = s.querySelector("tr[data-run-id] td.name")!.getBoundingClientRect();
        return { scrolled: s.scrollLeft, offset: name.left - s.getBoundingClientRect().left };
      });
      assert.ok(pinned.scrolled > 0 && pinned.offset < 40, `name column pinned: ${JSON.stringify(pinned)}`);
      await page.screenshot({ path: `${SHOTS}/walk_table_pinned.png` });
      await page.setViewportSize({ width: 1440, height: 900 });

      // 7: typing does not filter (no flicker, no error per keystroke); Enter applies; a broken filter keeps the
      // last good rows and explains itself in plain words
      await page.click("#filter");
      const seen: number[] = [];
      for (const ch of "metrics.`val/loss` < 2.5") {
        await page.keyboard.type(ch);
        seen.push(await count(page));
        assert.equal(await page.locator(".filter-error").count(), 0, "no error while typing");
      }
      assert.deepEqual(new Set(seen), new Set([5]), `rows while typing: ${seen}`);
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length < 5);
      const good = await count(page);
      await page.fill("#filter", "metrix.loss < 1");
      await page.keyboard.press("Enter");
      await page.waitForSelector(".filter-error");
      const message = await page.textContent(".filter-error") ?? "";
      assert.match(message, /Use one of: metric, parameter, tag, attribute or dataset/);
      assert.ok(!message.includes("["), message);
      assert.equal(await count(page), good, "the last good rows stay");
      await page.screenshot({ path: `${SHOTS}/walk_filter_error.png` });
      await page.fill("#filter", "metrics.`val/loss` < 2.5");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => !document.querySelector(".filter-error"));

      // 9: the experiment's view is remembered: open a run, come back through the breadcrumb
      await page.click('th[data-column="param:lr"]');
      await page.waitForFunction(() => location.hash.includes("sort="));
      await page.click("tr[data-run-id] td.name a");
      await page.waitForSelector(".run-page #run-id");
      await page.click(".run-page h2 a");
      await page.waitForSelector("tr[data-run-id]");
      assert.match(decodeURIComponent(page.url()), /q=metrics\.`val\/loss`.*sort=/);
      assert.equal(await page.inputValue("#filter"), "metrics.`val/loss` < 2.5");
      await page.click(".filter-clear");
      await page.waitForFunction(() => document.querySelectorAll("tr[data-run-id]").length === 5);

      // 10: one colour per run: table swatch = compare header = chart line (legend marker)
      const lr1 = fx.ids[0], lr2 = fx.ids[1];
      const swatch = await page.getAttribute(`tr[data-run-id="${lr1}"] .swatch`, "data-color");
      await page.check(`tr[data-run-id="${lr2}"] td.check input`);
      await page.check(`tr[data-run-id="${lr1}"] td.check input`);
      await page.click("#compare");
      await page.waitForSelector(".compare-page table.params");
      assert.equal(await page.getAttribute(`table.params th[data-run-id="${lr1}"]`, "data-color"), swatch);
      await page.goto(`${sweepUrl}?tab=charts&sel=${lr1}`);
      await page.waitForSelector('.chart-plot[data-metric="loss"][data-rendered]');
      const marker = await page.$eval(
        '.chart:has(.chart-plot[data-metric="loss"]) .u-legend .u-series:nth-child(2) .u-marker',
        (m) => getComputedStyle(m).borderColor,
      );
      assert.equal(marker, hexToRgb(swatch!), "same colour on the Charts tab");
      assert.ok(!/points/.test(await page.textContent(".chart-title") ?? ""), "no debug text in titles");

      // 11, 4, 2, 3 on Compare: parallel coordinates default to the differing params and val/loss, with a
      // legend and brushing; scatter x labels never repeat; log-scale labels never read -Inf; a zoomed chart
      // follows the smoothing slider, and so does its reset
      const five = fx.ids.slice(0, 5).join(",");
      await page.goto(`${srv.url}/#/compare?runs=${five}&sx=param%3Alr&sy=metric%3Aloss`);
      await page.waitForSelector(".parallel svg polyline");
      const axes = await page.$$eval(
        ".parallel g[data-axis]",
        (g) => g.map((x) => x.getAttribute("data-axis")),
      );
      assert.deepEqual(axes, ["param:lr", "metric:val/loss"]);
      assert.equal(await page.locator('[data-testid="parallel-legend"]').count(), 1);
      const brushArea = page.locator('.parallel g[data-axis="param:lr"] .brush-area');
      await brushArea.scrollIntoViewIfNeeded();
      const area = (await brushArea.boundingBox())!;
      await page.mouse.move(area.x + area.width / 2, area.y + 2);
      await page.mouse.down();
      await page.mouse.move(area.x + area.width / 2, area.y + area.height * 0.45, { steps: 4 });
      await page.mouse.up();
      assert.match(
        await page.textContent('[data-testid="parallel-count"]') ?? "",
        /^\d of 5 runs in the brushed/,
      );
      const ticks = (await page.getAttribute(".chart-plot[data-x-ticks]", "data-x-ticks"))!.split("|")
        .filter((t) => t);
      assert.equal(new Set(ticks).size, ticks.length, `scatter x labels repeat: ${ticks}`);
      await page.goto(`${srv.url}/#/compare?runs=${five}&pc=param%3Alr,param%3Alayers&diff=1`);
      await page.waitForSelector(".parallel svg polyline");
      assert.equal(await page.locator('.parallel g[data-axis="param:layers"]').count(), 0, "diff-only axes");
      await page.goto(`${srv.url}/#/compare?runs=${five}&pc=param%3Alr,param%3Alayers`);
      await page.waitForSelector('.parallel g[data-axis="param:layers"]');
      assert.deepEqual(
        await page.$$eval('.parallel g[data-axis="param:layers"] .tick', (t) => t.map((x) => x.textContent)),
        ["4"],
        "a constant axis is one tick, not an invented range",
      );
      await page.screenshot({ path: `${SHOTS}/walk_compare_parallel.png`, fullPage: true });

      const loss = '.compare-page .chart-plot[data-metric="loss"]';
      await page.click(".compare-page >> text=log scale");
      await page.waitForFunction((s) => document.querySelector(s)?.getAttribute("data-y-ticks"), loss);
      const yTicks = await page.getAttribute(loss, "data-y-ticks");
      assert.ok(!/Inf/.test(yTicks!), `log axis labels: ${yTicks}`);
      const logStamp = await page.getAttribute(loss, "data-rendered");
      await page.click(".compare-page >> text=log scale");
      await page.waitForFunction(
        ([s, b]) => document.querySelector(s!)?.getAttribute("data-rendered") !== b,
        [
          loss,
          logStamp,
        ],
      );
      await page.waitForSelector(`${loss}[data-rendered]`);
      const rawSum = Number(await page.getAttribute(loss, "data-y-sum"));
      await page.locator(`${loss} .u-over`).scrollIntoViewIfNeeded();
      const box = (await page.locator(`${loss} .u-over`).boundingBox())!;
      let stamp = await page.getAttribute(loss, "data-rendered");
      await page.mouse.move(box.x + box.width * 0.3, box.y + 40);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.7, box.y + 40, { steps: 4 });
      await page.mouse.up();
      await page.waitForFunction(
        ([s, b]) => document.querySelector(s!)?.getAttribute("data-rendered") !== b,
        [
          loss,
          stamp,
        ],
      );
      const zoomed = await page.getAttribute(loss, "data-x-range");
      const zoomSum = Number(await page.getAttribute(loss, "data-y-sum"));
      await page.$eval(".compare-page .chart-controls input[type=range]", (el) => {
        (el as HTMLInputElement).value = "0.9";
        el.dispatchEvent(new Event("input", { bubbles: true }));
      });
      await page.waitForFunction(
        ([s, z]) => document.querySelector(s!)?.getAttribute("data-y-sum") !== z,
        [loss, String(zoomSum)],
      );
      assert.equal(await page.getAttribute(loss, "data-x-range"), zoomed, "smoothing keeps the zoom");
      stamp = await page.getAttribute(loss, "data-rendered");
      await page.dblclick(`${loss} .u-over`);
      await page.waitForFunction(
        ([s, b]) => document.querySelector(s!)?.getAttribute("data-rendered") !== b,
        [
          loss,
          stamp,
        ],
      );
      await new Promise((r) => setTimeout(r, 300)); // the reset's re-fetch lands
      const resetSum = Number(await page.getAttribute(loss, "data-y-sum"));
      assert.notEqual(resetSum, rawSum, "after a reset the chart is still smoothed");
      await page.screenshot({ path: `${SHOTS}/walk_compare_smoothed.png`, fullPage: true });

      // 1: select all in a 600-run experiment → Compare: no ids in the URL, bulk fetches, few in flight
      await page.goto(`${srv.url}/#/experiments/${fx.bulk}`);
      await page.waitForFunction((n) =>
        document.querySelector('[data-testid="run-count"]')?.textContent
          ?.startsWith(`${n} of ${n}`), BULK.toLocaleString("en"));
      await page.click("th.check input");
      await page.waitForFunction(() => location.hash.includes("sel="));
      assert.ok(page.url().length < 300, `select-all URL is ${page.url().length} characters`);
      let inFlight = 0, most = 0, requests = 0;
      page.on("request", (r) => {
        if (r.url().includes("/api/2.0/mlflow/runs/")) (requests++, most = Math.max(most, ++inFlight));
      });
      page.on("requestfinished", (r) => r.url().includes("/api/2.0/mlflow/runs/") && inFlight--);
      page.on("requestfailed", (r) => r.url().includes("/api/2.0/mlflow/runs/") && inFlight--);
      const t0 = performance.now();
      await page.click("#compare");
      await page.waitForFunction(
        (n) => document.querySelector(".compare-page h2")?.textContent === `Comparing ${n} runs`,
        BULK.toLocaleString("en"),
      );
      await page.waitForSelector(".compare-page .chart-plot[data-rendered]");
      console.log(
        `compare of ${BULK} runs (select all): ${
          Math.round(performance.now() - t0)
        } ms, ${requests} run requests, ${most} in flight at most`,
      );
      assert.ok(requests <= 10 && most <= 6, `${requests} requests, ${most} in flight`);
      assert.ok(page.url().length < 300);
      // a hand-picked large selection (all but one) leaves the URL too, and compares
      await page.goBack();
      await page.waitForSelector("tr[data-run-id]");
      await page.click("tr[data-run-id] td.check input");
      await page.waitForFunction(() => /sel=%40|sel=@/.test(location.hash));
      await page.click("#compare");
      await page.waitForFunction(
        (n) => document.querySelector(".compare-page h2")?.textContent === `Comparing ${n} runs`,
        (BULK - 1).toLocaleString("en"),
      );
      page.removeAllListeners("request");

      // 5: "Compare…" on a run page offers the experiment's runs to add
      await page.goto(`${srv.url}/#/runs/${lr1}`);
      await page.click("#compare-with");
      await page.waitForSelector(`[data-testid="add-runs"] input[data-run-id="${lr2}"]`);
      await page.check(`[data-testid="add-runs"] input[data-run-id="${lr2}"]`);
      await page.click("#add-runs");
      await page.waitForFunction(() =>
        document.querySelector(".compare-page h2")?.textContent === "Comparing 2 runs"
      );

      // 8: register twice (a double-click, then the same model again): one version per click, no 400
      await page.goto(`${srv.url}/#/runs/${lr1}`);
      await page.fill('input[placeholder="model name"]', "walk-model");
      await page.dblclick("#register");
      await page.waitForSelector("#registered");
      assert.equal(await page.isDisabled("#register"), true, "registered: the button rests");
      await page.goto(`${srv.url}/#/runs/${lr2}`);
      await page.fill('input[placeholder="model name"]', "walk-model");
      await page.click("#register");
      await page.waitForSelector("#registered");
      assert.match(await page.textContent("#registered") ?? "", /walk-model version 2/);
      const versions = await (await fetch(
        `${srv.url}/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent("name = 'walk-model'")}`,
      )).json();
      assert.equal(versions.model_versions.length, 2);

      // 12: a deleted run looks deleted, is read-only and can be restored
      await page.goto(`${srv.url}/#/runs/${fx.ids[5]}`);
      await page.waitForSelector('[data-testid="deleted-banner"]');
      assert.match(await page.getAttribute("td.status", "class") ?? "", /deleted/);
      assert.equal(await page.locator("#note-edit").count(), 0);
      await page.screenshot({ path: `${SHOTS}/walk_deleted_run.png` });
      await page.click("#restore-run");
      await page.waitForFunction(() => !document.querySelector('[data-testid="deleted-banner"]'));
      assert.equal(await page.textContent("td.status"), "FINISHED");

      // 12: a deleted experiment says so and can be restored
      await page.goto(`${srv.url}/#/experiments/${fx.gone}`);
      await page.waitForSelector('[data-testid="deleted-banner"]');
      await page.screenshot({ path: `${SHOTS}/walk_deleted_experiment.png` });
      await page.click("#restore-experiment");
      await page.waitForFunction(() => !document.querySelector('[data-testid="deleted-banner"]'));

      // 6, 14: an unknown experiment, an unknown route, an experiment without runs
      await page.goto(`${srv.url}/#/experiments/999999`);
      await page.waitForSelector('[data-testid="experiment-not-found"]');
      await page.waitForFunction(() => document.title === "Experiment not found · storyteller");
      await page.screenshot({ path: `${SHOTS}/walk_experiment_not_found.png` });
      await page.goto(`${srv.url}/#/no/such/page`);
      await page.waitForSelector('[data-testid="not-found"]');
      await page.goto(`${srv.url}/#/experiments/${fx.empty}`);
      await page.waitForSelector('[data-testid="no-runs-yet"]');
      assert.equal(await page.isDisabled("#export-csv"), true, "nothing to export");
      await page.screenshot({ path: `${SHOTS}/walk_empty_experiment.png` });

      // 13: an error banner belongs to its page
      page.once("dialog", (d) => d.accept("sweep"));
      await page.click('.sidebar button[title="new experiment"]');
      await page.waitForSelector(".banner.error");
      await page.click('.sidebar a[data-experiment="sweep"]');
      await page.waitForFunction(() => document.title === "sweep · storyteller");
      assert.match(page.url(), /tab=charts/, "the sweep's last view (the Charts tab) is back");
      assert.equal(await page.locator(".banner.error").count(), 0, "the banner stays behind");
      const expected = errors.filter((e) => e.includes("experiments/create"));
      errors.splice(
        0,
        errors.length,
        ...errors.filter((e) => !expected.includes(e) && !/status of 400/.test(e)),
      );

      // dark mode follows the system
      await page.emulateMedia({ colorScheme: "dark" });
      assert.equal(await page.$eval("body", (b) => getComputedStyle(b).backgroundColor), "rgb(17, 19, 24)");
      await page.screenshot({ path: `${SHOTS}/walk_dark.png` });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await srv.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
