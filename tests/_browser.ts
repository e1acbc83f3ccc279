/** The UI browser tests' Chromium: where it is, whether it is there, where screenshots go, pages that record errors. */
import { type Browser, chromium, type Page } from "playwright-core";

/** The system Chromium playwright-core drives (Debian's `chromium` package). */
export const CHROMIUM = "/usr/bin/chromium";
/** Whether CHROMIUM exists: the browser tests are ignored without it. */
export const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
/** Where the browser tests write their screenshots. */
export const SHOTS = new URL("../test-output/ui/", import.meta.url).pathname;

/** Launches CHROMIUM headless, without sandbox or GPU. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
}

/** A new page of that viewport; its page errors, console errors and HTTP ≥ 400 responses go to `errors`. */
export async function watchedPage(
  browser: Browser,
  viewport: { width: number; height: number },
  errors: string[],
): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
  page.on("response", (r) => r.status() >= 400 && errors.push(`HTTP ${r.status()} ${r.url()}`));
  return page;
}
