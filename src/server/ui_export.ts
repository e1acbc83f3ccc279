/**
 * `GET /api/storyteller/export?run_id=&format=gguf|hf[&dtype=f32|f16]`: a run's logged model converted for
 * llama.cpp (one .gguf file) or Hugging Face transformers (the directory as a .tar), the UI's download of
 * `storyteller export`. The model directory is found like every artifact (`resolveArtifactFile`: inside the store
 * or the artifacts root, after real paths) and converted in memory; nothing is written on the server.
 */
import { Hono } from "hono";
import { dirname } from "node:path";
import { encodeGguf, ggufContent, hfFiles, loadExportSource } from "../export/mod.ts";
import { FileStore, type TrackingClient, TrackingError } from "../tracking/mod.ts";
import { resolveArtifactFile } from "./sources.ts";
import { UsageError } from "../errors.ts";

/** One ustar entry's 512-byte header (regular file, mode 0644, mtime 0 so archives are reproducible). */
function tarHeader(name: string, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const enc = new TextEncoder();
  const put = (at: number, text: string) => h.set(enc.encode(text), at);
  const octal = (at: number, width: number, n: number) =>
    put(at, n.toString(8).padStart(width - 1, "0") + "\0");
  const bytes = enc.encode(name);
  if (bytes.length > 100) throw new Error(`Cannot archive '${name}': names are limited to 100 bytes`);
  h.set(bytes, 0);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, size);
  octal(136, 12, 0); // mtime
  put(156, "0"); // regular file
  put(257, "ustar\0");
  put(263, "00");
  h.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  const sum = h.reduce((a, b) => a + b, 0);
  put(148, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** A tar archive of `files` under `prefix/`, in memory (models here are megabytes, not gigabytes). */
export function tarFiles(prefix: string, files: Map<string, Uint8Array | string>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [name, data] of files) {
    const raw = typeof data === "string" ? new TextEncoder().encode(data) : data;
    parts.push(
      tarHeader(`${prefix}/${name}`, raw.byteLength),
      raw,
      new Uint8Array((512 - raw.byteLength % 512) % 512),
    );
  }
  parts.push(new Uint8Array(1024)); // two zero blocks end the archive
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** The export download route of the UI (local file stores only, like the artifact route). */
export function exportApp(client: TrackingClient, artifactsRoot: string | null = null): Hono {
  const app = new Hono();
  app.get("/api/storyteller/export", async (c) => {
    const runId = c.req.query("run_id") ?? "";
    const format = c.req.query("format") ?? "";
    const dtype = c.req.query("dtype") ?? "f32";
    if (!runId) throw new TrackingError("INVALID_PARAMETER_VALUE", "Cannot export: run_id is required");
    if (format !== "gguf" && format !== "hf") {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        `Cannot export: format must be gguf or hf, got '${format}'`,
      );
    }
    if (dtype !== "f32" && dtype !== "f16") {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        `Cannot export: dtype must be f32 or f16, got '${dtype}'`,
      );
    }
    if (!(client instanceof FileStore)) {
      throw new TrackingError("NOT_IMPLEMENTED", "Cannot export: the UI serves a local store only");
    }
    const run = await client.getRun(runId);
    const config = resolveArtifactFile(
      { store: client, artifactsRoot },
      run.info.artifactUri,
      "model/config.json",
    );
    try {
      await Deno.stat(config);
    } catch {
      throw new TrackingError(
        "RESOURCE_DOES_NOT_EXIST",
        `Cannot export run ${runId}: it has no logged model`,
      );
    }
    const src = await loadExportSource(dirname(config), { trackingUri: client.root });
    const stem = `storyteller-${runId.slice(0, 8)}-${dtype}`;
    let body: Uint8Array;
    let name: string;
    try {
      if (format === "gguf") {
        const { metadata, tensors } = ggufContent(src, dtype);
        body = encodeGguf(metadata, tensors);
        name = `${stem}.gguf`;
      } else {
        body = tarFiles(stem, hfFiles({ ...src, runId, run, source: `runs:/${runId}/model` }, dtype));
        name = `${stem}.tar`;
      }
    } catch (err) {
      // A model the format cannot carry (e.g. a tokenizer llama.cpp would misread): the user's choice, a 400.
      if (err instanceof UsageError) throw new TrackingError("INVALID_PARAMETER_VALUE", err.message);
      throw err;
    }
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "application/octet-stream",
      "Content-Disposition": `attachment; filename="${name}"`,
      "Content-Length": String(body.byteLength),
      "X-Content-Type-Options": "nosniff",
    });
  });
  return app;
}
