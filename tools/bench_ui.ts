/**
 * UI benchmarks in headless Chromium (/usr/bin/chromium): (1) 10,000 runs × 20 metrics × 20 params → time to
 * the first table rows, to all runs loaded, to re-sort, to re-filter and to render rows after a jump-scroll;
 * (2) compare of 1,000 runs (bulk fetch, diff tables, 3 overlaid charts); (3) a 1,000,000-point metric → server
 * downsampling (cold parse, warm) and chart fetch+draw in the browser.
 * Usage: deno run -A tools/bench_ui.ts [--runs 10000] [--points 1000000] [--store DIR]
 * (--store keeps the generated store in DIR and reuses it on the next run.)
 */
import { join } from "node:path";
import type { Hono } from "hono";
import { chromium } from "playwright-core";
import { createServerApp, listen } from "../src/server/mod.ts";
import { FileStore, formatMetricLine } from "../src/tracking/mod.ts";
import { writeSyntheticRuns } from "./_bench_store.ts";

const arg = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
};
const nRuns = arg("--runs", 10_000);
const nPoints = arg("--points", 1_000_000);
const storeArg = Deno.args.indexOf("--store");
const keep = storeArg >= 0 ? Deno.args[storeArg + 1] : undefined;
const tmp = keep ?? Deno.makeTempDirSync({ prefix: "st-bench-ui-" });
const root = join(tmp, "mlruns");
const reuse = keep !== undefined && (() => {
  try {
    return Deno.statSync(join(root, "bench-info.json")).isFile;
  } catch {
    return false;
  }
})();
const store = new FileStore(root);
let t = performance.now();
const enc = new TextEncoder();
let expId: string, bigId: string;
if (reuse) {
  ({ expId, bigId } = JSON.parse(Deno.readTextFileSync(join(root, "bench-info.json"))));
  console.log(`reusing the store in ${root}`);
} else {
  ({ expId, bigId } = await populate());
  if (keep) Deno.writeTextFileSync(join(root, "bench-info.json"), JSON.stringify({ expId, bigId }));
}

async function populate(): Promise<{ expId: string; bigId: string }> {
  const expId = await store.createExperiment("bench");
  const expDir = join(root, expId);
  writeSyntheticRuns(store, expId, nRuns, 1000);
  console.log(
    `populated ${nRuns} runs × 20 metrics × 20 params in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  // One run with a long history (direct write, the metric file format).
  const big = await store.createRun({
    experimentId: expId,
    runName: "long-history",
    startTime: 1795758701315,
  });
  const bigId = big.info.runId;
  t = performance.now();
  {
    const f = Deno.openSync(join(expDir, bigId, "metrics", "loss"), {
      write: true,
      create: true,
      truncate: true,
    });
    const chunk: string[] = [];
    for (let i = 0; i < nPoints; i++) {
      const v = 2 + Math.exp(-i / (nPoints / 8)) + Math.random() * 0.05 +
        (i === Math.floor(nPoints * 0.61) ? 40 : 0);
      chunk.push(formatMetricLine({ key: "loss", value: v, timestamp: 1795758701315 + i * 5, step: i }));
      if (chunk.length === 50_000) {
        f.writeSync(enc.encode(chunk.join("")));
        chunk.length = 0;
      }
    }
    f.writeSync(enc.encode(chunk.join("")));
    f.close();
  }
  console.log(
    `wrote a ${nPoints.toLocaleString()}-point metric in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  return { expId, bigId };
}

// A finished run: a RUNNING one makes the run page poll runs/get, which re-reads the whole history for the
// latest value (a FileStore cost, not the chart's).
if ((await store.getRun(bigId)).info.status === "RUNNING") await store.setTerminated(bigId, "FINISHED");

// The server exactly as `storyteller ui` builds it.
const app: Hono = createServerApp({ backendStoreUri: root, ui: true, artifactsDestination: null });

// Server-side downsampling of the long history.
const seriesUrl = `http://127.0.0.1/api/storyteller/metric-series?run_id=${bigId}&key=loss&points=1200`;
for (const label of ["cold (parse the file)", "warm", "warm"]) {
  t = performance.now();
  const j = await (await app.request(seriesUrl)).json();
  const s = j.series[0];
  console.log(
    `metric-series ${label}: ${
      (performance.now() - t).toFixed(1)
    } ms → ${s.x.length} of ${s.total} points, spike kept: ${
      s.y.includes(Math.max(...s.y)) && Math.max(...s.y) > 40
    }`,
  );
}
t = performance.now();
await app.request(`${seriesUrl}&min=600000&max=620000`);
console.log(`metric-series zoomed window (20,000 steps): ${(performance.now() - t).toFixed(1)} ms`);

const srv = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "bench" });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Timestamps from the page itself (navigation start = 0), recorded by a MutationObserver.
  await page.addInitScript(() => {
    const w = globalThis as unknown as { __firstRows?: number };
    new MutationObserver((_m, obs) => {
      if (document.querySelector("tr[data-run-id]")) {
        w.__firstRows = performance.now();
        obs.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  for (const pass of ["cold", "warm", "warm"]) {
    await page.goto("about:blank");
    await page.goto(`${srv.url}/#/experiments/${expId}?cols=metric%3Am3,param%3Ap1`);
    await page.waitForFunction(() => (globalThis as unknown as { __firstRows?: number }).__firstRows);
    const first = await page.evaluate(() => (globalThis as unknown as { __firstRows: number }).__firstRows);
    await page.waitForFunction(
      (n) =>
        document.querySelector(".runs-scroller")?.getAttribute("data-rows") === String(n) &&
        !document.querySelector('[data-testid="run-count"]')?.textContent?.includes("loading"),
      nRuns + 1,
      { timeout: 120_000 },
    );
    const all = await page.evaluate(() => performance.now());
    const domRows = await page.locator("tr[data-run-id]").count();
    console.log(
      `table ${pass}: first rows at ${first.toFixed(0)} ms after navigation, all ${nRuns + 1} runs at ${
        all.toFixed(0)
      } ms; ${domRows} rows in the DOM`,
    );
  }
  // Sort 10k runs by a metric (click → first row changes).
  const timeUntil = async (action: () => Promise<void>, done: () => Promise<unknown>) => {
    const t0 = await page.evaluate(() => performance.now());
    await action();
    await done();
    return (await page.evaluate(() => performance.now())) - t0;
  };
  const firstId = () => page.getAttribute("tr[data-run-id]", "data-run-id");
  let before = await firstId();
  const sortMs = await timeUntil(
    () => page.click('th[data-column="metric:m3"]'),
    () =>
      page.waitForFunction(
        (b) => document.querySelector("tr[data-run-id]")?.getAttribute("data-run-id") !== b,
        before,
      ),
  );
  console.log(`sort ${nRuns + 1} runs by a metric: ${sortMs.toFixed(0)} ms (click to repaint)`);
  const filterMs = await timeUntil(
    async () => {
      await page.fill("#filter", "metrics.m3 < 2.0 AND params.p1 = '0'");
      await page.press("#filter", "Enter"); // the filter applies on Enter
    },
    () =>
      page.waitForFunction(() =>
        !document.querySelector('[data-testid="run-count"]')?.textContent?.startsWith("10,001 of")
      ),
  );
  console.log(
    `filter ${nRuns + 1} runs: ${filterMs.toFixed(0)} ms (input to repaint) → ${await page.textContent(
      '[data-testid="run-count"]',
    )}`,
  );
  await page.fill("#filter", "");
  await page.press("#filter", "Enter");
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="run-count"]')?.textContent?.startsWith("10,001 of")
  );
  before = await firstId();
  const scrollMs = await timeUntil(
    async () => {
      await page.evaluate(() => {
        document.querySelector(".runs-scroller")!.scrollTop = 28 * 5000;
      });
    },
    () =>
      page.waitForFunction(
        (b) => document.querySelector("tr[data-run-id]")?.getAttribute("data-run-id") !== b,
        before,
      ),
  );
  console.log(
    `jump-scroll to row 5,000: ${scrollMs.toFixed(0)} ms to rows on screen; DOM rows ${await page.locator(
      "tr[data-run-id]",
    ).count()}`,
  );

  // Frames while scrolling through the table (rAF intervals during 2 s of wheel scrolling).
  const frames = await page.evaluate(async () => {
    const el = document.querySelector(".runs-scroller")!;
    const gaps: number[] = [];
    let last = performance.now();
    let going = true;
    const tick = () => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
      el.scrollTop += 180;
      if (going) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    await new Promise((r) => setTimeout(r, 2000));
    going = false;
    gaps.sort((a, b) => a - b);
    return {
      n: gaps.length,
      p50: gaps[Math.floor(gaps.length / 2)],
      p95: gaps[Math.floor(gaps.length * 0.95)],
    };
  });
  console.log(
    `scrolling 180 px per frame for 2 s: ${frames.n} frames, frame gap p50 ${frames.p50.toFixed(1)} ms, p95 ${
      frames.p95.toFixed(1)
    } ms`,
  );

  // Compare 1,000 runs: bulk fetch (run_id IN, capped in flight), metric/param diff tables, 3 overlaid charts.
  {
    const ids = await page.$$eval("tr[data-run-id]", (t) => t.map((r) => r.getAttribute("data-run-id")!));
    const pick = (await page.evaluate(async () => {
      const r = await fetch("/api/2.0/mlflow/runs/search", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          experiment_ids: [location.hash.split("/")[2].split("?")[0]],
          max_results: 1000,
        }),
      });
      return (await r.json()).runs.map((x: { info: { run_id: string } }) => x.info.run_id);
    })) as string[];
    await page.goto("about:blank");
    const t0 = performance.now();
    await page.goto(`${srv.url}/#/compare?runs=${pick.join(",")}&m=m0,m1,m2`);
    await page.waitForFunction(
      () => document.querySelector(".compare-page h2")?.textContent === "Comparing 1,000 runs",
      undefined,
      { timeout: 60_000 },
    );
    const tables = performance.now() - t0;
    await page.waitForFunction(
      () => document.querySelectorAll(".compare-page .chart-plot[data-rendered]").length >= 3,
      undefined,
      { timeout: 60_000 },
    );
    console.log(
      `compare 1,000 runs: diff tables ${tables.toFixed(0)} ms, + 3 overlaid charts drawn ${
        (performance.now() - t0).toFixed(0)
      } ms (navigation to drawn; ${ids.length} table rows were on screen before)`,
    );
  }

  // The 1M-point chart on the run page: fetch + draw as the chart reports it, and navigation to drawn.
  for (const pass of ["1", "2", "3", "4", "5"]) {
    await page.goto("about:blank");
    await page.goto(`${srv.url}/#/runs/${bigId}`);
    await page.waitForSelector('.chart-plot[data-metric="loss"][data-rendered] canvas', { timeout: 60_000 });
    const nav = await page.evaluate(() => performance.now());
    const status = await page.getAttribute(".chart-plot[data-status]", "data-status");
    console.log(`1M-point chart, page load #${pass}: ${status}; navigation to drawn ${nav.toFixed(0)} ms`);
  }
  // The chart alone (no runs/get just before it): toggling log scale rebuilds the chart and re-fetches.
  for (let i = 1; i <= 4; i++) {
    const before = await page.getAttribute('.chart-plot[data-metric="loss"]', "data-rendered");
    await page.click("text=log scale");
    await page.waitForFunction(
      (s) => {
        const el = document.querySelector('.chart-plot[data-metric="loss"]');
        return el?.getAttribute("data-rendered") && el.getAttribute("data-rendered") !== s;
      },
      before,
    );
    console.log(
      `1M-point chart rebuilt (log scale ${i % 2 ? "on" : "off"}): ${await page.getAttribute(
        ".chart-plot[data-status]",
        "data-status",
      )}`,
    );
  }
  // Zoom: a drag on the chart re-fetches the window.
  const box = (await page.locator('.chart-plot[data-metric="loss"] .u-over').boundingBox())!;
  const stamp = await page.getAttribute('.chart-plot[data-metric="loss"]', "data-rendered");
  const zoomMs = await timeUntil(async () => {
    await page.mouse.move(box.x + box.width * 0.5, box.y + 40);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + 40, { steps: 4 });
    await page.mouse.up();
  }, () =>
    page.waitForFunction(
      (s) => document.querySelector('.chart-plot[data-metric="loss"]')?.getAttribute("data-rendered") !== s,
      stamp,
    ));
  console.log(
    `zoom (drag → refetched window drawn): ${zoomMs.toFixed(0)} ms; ${await page.getAttribute(
      ".chart-plot[data-status]",
      "data-status",
    )}`,
  );
} finally {
  await browser.close();
  await srv.shutdown();
  if (!keep) Deno.removeSync(tmp, { recursive: true });
}
