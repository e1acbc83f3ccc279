/**
 * The tracking UI: its pages, the bundled Preact assets and the extra endpoints only the UI uses
 * (`/api/storyteller/…`: downsampled metric histories, live updates). Mounted by the tracking server.
 */
import { Hono } from "hono";
import type { TrackingClient } from "../tracking/mod.ts";
import { renderError } from "./errors.ts";
import appJs from "../../ui/dist/app.js" with { type: "text" };
import appCss from "../../ui/dist/app.css" with { type: "text" };
import { seriesApp, type SeriesCache } from "./ui_series.ts";
import { changesApp } from "./ui_changes.ts";
import { artifactApp } from "./ui_artifact.ts";
import { exportApp } from "./ui_export.ts";

/** What the UI routes need from the server. */
export interface UiContext {
  /** The store the server fronts (a FileStore for `storyteller ui` and `storyteller server`). */
  client: TrackingClient;
  /** Parsed metric histories, shared between apps on one store (default: one per uiApp). */
  seriesCache?: SeriesCache;
  /** The `mlflow-artifacts:/` root artifacts may also be served from (besides the store itself). */
  artifactsRoot?: string | null;
}

/** FNV-1a of a string, as a short hex ETag. */
function etagOf(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `"${(h >>> 0).toString(16).padStart(8, "0")}-${s.length.toString(16)}"`;
}

const ASSETS: Record<string, { body: string; type: string; etag: string }> = {
  "app.js": { body: appJs, type: "text/javascript; charset=utf-8", etag: etagOf(appJs) },
  "app.css": { body: appCss, type: "text/css; charset=utf-8", etag: etagOf(appCss) },
};

/** The page shell: no inline script or style, so a strict CSP (`script-src 'self'`) holds. */
export const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>storyteller</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css?v=${ASSETS["app.css"].etag.slice(1, 9)}">
<script type="module" src="/static/app.js?v=${ASSETS["app.js"].etag.slice(1, 9)}"></script>
</head>
<body><div id="app"></div></body>
</html>
`;

/** The CSP the shell needs (the server may set a stricter one of its own). */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** The UI sub-app; the server mounts it at `/`. */
export function uiApp(ctx: UiContext): Hono {
  const app = new Hono();
  app.onError(renderError); // the API's own error shape, hints included
  app.get("/", (c) => {
    c.header("Content-Security-Policy", UI_CSP);
    c.header("Cache-Control", "no-cache");
    return c.html(SHELL);
  });
  app.get("/static/:name", (c) => {
    const a = ASSETS[c.req.param("name")];
    if (!a) return c.json({ error_code: "ENDPOINT_NOT_FOUND", message: "Cannot find this UI asset" }, 404);
    if (c.req.header("If-None-Match") === a.etag) return c.body(null, 304, { ETag: a.etag });
    return c.body(a.body, 200, { "Content-Type": a.type, ETag: a.etag, "Cache-Control": "no-cache" });
  });
  app.route("/", seriesApp(ctx.client, ctx.seriesCache));
  app.route("/", changesApp(ctx.client));
  app.route("/", artifactApp(ctx.client, ctx.artifactsRoot ?? null));
  app.route("/", exportApp(ctx.client, ctx.artifactsRoot ?? null));
  return app;
}
