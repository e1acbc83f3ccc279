/**
 * The tracking UI: its pages, the bundled Preact assets and the extra endpoints only the UI uses
 * (`/api/storyteller/…`: downsampled metric histories, live updates). Mounted by the tracking server.
 */
import { Hono } from "hono";
import type { TrackingClient } from "../tracking/mod.ts";

/** What the UI routes need from the server. */
export interface UiContext {
  /** The store the server fronts (a FileStore for `storyteller ui` and `storyteller server`). */
  client: TrackingClient;
}

/** The UI sub-app; the server mounts it at `/`. */
export function uiApp(_ctx: UiContext): Hono {
  return new Hono();
}
