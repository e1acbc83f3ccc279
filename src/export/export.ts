/**
 * `exportModel`: load a model (directory, runs:/ or models:/ URI), convert it and write the result — one GGUF file
 * or one Hugging Face directory — without leaving a half-written output behind. Not the formats themselves.
 */
import { dirname, join } from "node:path";
import { UsageError } from "../errors.ts";
import { ggufContent } from "./gguf.ts";
import { writeGguf } from "./gguf_format.ts";
import { hfFiles } from "./hf.ts";
import { loadExportSource } from "./source.ts";

export type ExportFormat = "gguf" | "hf";

export interface ExportOptions {
  /** Model directory or URI, as `generate -m` takes it. */
  model: string;
  format: ExportFormat;
  /** The .gguf file or the HF directory to write. */
  out: string;
  dtype?: "f32" | "f16";
  trackingUri?: string;
  /** Replace an existing output. */
  force?: boolean;
}

export interface ExportResult {
  path: string;
  bytes: number;
  runId?: string;
}

async function existing(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

async function checkOut(out: string, format: ExportFormat, force: boolean): Promise<void> {
  const info = await existing(out);
  if (info && format === "gguf" && info.isDirectory) {
    throw new UsageError(`Cannot export to ${out}: it is a directory`, {
      hint: "name the .gguf file to write",
    });
  }
  if (info && format === "hf" && !info.isDirectory) {
    throw new UsageError(`Cannot export to ${out}: it is a file`, {
      hint: "name a new directory for --format hf",
    });
  }
  if (info && !force) {
    throw new UsageError(`Cannot export to ${out}: it already exists`, {
      hint: "pass --force to replace it, or choose another -o",
    });
  }
  const parent = await existing(dirname(out) || ".");
  if (!parent?.isDirectory) {
    throw new UsageError(`Cannot export to ${out}: the directory ${dirname(out)} does not exist`);
  }
}

/** Writes the HF files into a fresh directory beside `out`, then swaps it in. */
async function writeDir(out: string, files: Map<string, Uint8Array | string>): Promise<number> {
  const tmp = `${out}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  let bytes = 0;
  try {
    await Deno.mkdir(tmp);
    for (const [name, data] of files) {
      const raw = typeof data === "string" ? new TextEncoder().encode(data) : data;
      await Deno.writeFile(join(tmp, name), raw);
      bytes += raw.byteLength;
    }
    if (await existing(out)) await Deno.remove(out, { recursive: true });
    await Deno.rename(tmp, out);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(`Cannot write ${out}: ${(err as Error).message}`, { cause: err });
  }
  return bytes;
}

/** Loads `options.model`, converts it to `options.format` and writes `options.out`. */
export async function exportModel(options: ExportOptions): Promise<ExportResult> {
  const { format, out, dtype = "f32" } = options;
  await checkOut(out, format, options.force ?? false);
  const src = await loadExportSource(options.model, { trackingUri: options.trackingUri });
  if (format === "gguf") {
    const { metadata, tensors } = ggufContent(src, dtype);
    await writeGguf(out, metadata, tensors);
    return { path: out, bytes: (await Deno.stat(out)).size, runId: src.runId };
  }
  const bytes = await writeDir(out, hfFiles({ ...src, source: options.model }, dtype));
  return { path: out, bytes, runId: src.runId };
}
