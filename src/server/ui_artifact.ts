/**
 * `GET /api/storyteller/artifact?run_id=&path=`: one artifact file for download or preview. HTML, SVG and
 * unknown types go out as attachments with `nosniff`, so a logged file can never run script in the UI's origin;
 * `preview=1` caps the body at 512 KiB (the `X-Storyteller-Truncated` header says when it did).
 */
import { Hono } from "hono";
import { basename } from "node:path";
import { FileStore, readRange, type TrackingClient, TrackingError } from "../tracking/mod.ts";
import { checkedSegments } from "./paths.ts";
import { resolveArtifactFile } from "./sources.ts";

const PREVIEW_BYTES = 512 * 1024;

/** Content types served inline; anything else downloads. */
const INLINE: Record<string, string> = {
  txt: "text/plain; charset=utf-8",
  log: "text/plain; charset=utf-8",
  md: "text/plain; charset=utf-8",
  yaml: "text/plain; charset=utf-8",
  yml: "text/plain; charset=utf-8",
  jsonl: "text/plain; charset=utf-8",
  csv: "text/plain; charset=utf-8",
  py: "text/plain; charset=utf-8",
  ts: "text/plain; charset=utf-8",
  json: "application/json; charset=utf-8",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
};

/** Content type and disposition for an artifact name. */
export function artifactContentType(path: string): { type: string; inline: boolean } {
  const name = basename(path);
  const ext = name.includes(".") ? name.split(".").pop()!.toLowerCase() : "";
  const t = INLINE[ext] ?? (["MLmodel", "LICENSE", "README"].includes(name) ? INLINE.txt : undefined);
  return t ? { type: t, inline: true } : { type: "application/octet-stream", inline: false };
}

/**
 * The artifact download route. Files are found through `resolveArtifactFile`, as `/get-artifact` finds them:
 * only under the store root or `artifactsRoot`, after real paths (a symlink to `/etc/passwd` is refused).
 */
export function artifactApp(client: TrackingClient, artifactsRoot: string | null = null): Hono {
  const app = new Hono();
  app.get("/api/storyteller/artifact", async (c) => {
    const runId = c.req.query("run_id") ?? "";
    const path = c.req.query("path") ?? "";
    if (!runId || !path) {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        "Cannot send an artifact: run_id and path are required",
      );
    }
    if (!(client instanceof FileStore)) {
      throw new TrackingError("NOT_IMPLEMENTED", "Cannot send an artifact: the UI serves a local store only");
    }
    checkedSegments(path); // a bad path is refused before the run is looked up
    const run = await client.getRun(runId);
    const file = resolveArtifactFile({ store: client, artifactsRoot }, run.info.artifactUri, path);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(file);
    } catch {
      throw new TrackingError(
        "RESOURCE_DOES_NOT_EXIST",
        `Cannot send artifact '${path}': no such file in run ${runId}`,
      );
    }
    if (!info.isFile) {
      throw new TrackingError("INVALID_PARAMETER_VALUE", `Cannot send artifact '${path}': it is a directory`);
    }
    const { type, inline } = artifactContentType(path);
    const download = c.req.query("download") === "1" || !inline;
    const preview = c.req.query("preview") === "1";
    const headers: Record<string, string> = {
      "Content-Type": download ? "application/octet-stream" : type,
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Content-Disposition": `${download ? "attachment" : "inline"}; filename*=UTF-8''${
        encodeURIComponent(basename(path))
      }`,
    };
    if (preview && info.size > PREVIEW_BYTES) {
      const f = await Deno.open(file);
      try {
        const head = await readRange(f, 0, PREVIEW_BYTES);
        headers["X-Storyteller-Truncated"] = String(info.size);
        return c.body(head as Uint8Array<ArrayBuffer>, 200, headers);
      } finally {
        f.close();
      }
    }
    const f = await Deno.open(file);
    headers["Content-Length"] = String(info.size);
    return c.body(f.readable, 200, headers);
  });
  return app;
}
