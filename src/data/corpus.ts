/**
 * Corpus readers: turn path specs (files, directories, globs, `builtin:stories`) into a stream of documents.
 * Files are read in 1 MiB chunks, so memory stays flat however large the corpus is. Not tokenization.
 */
import { UsageError } from "../errors.ts";
import { expandPath } from "./_glob.ts";
import { completePrefix, firstInvalidUtf8 } from "./_utf8.ts";
import { generateStories } from "./stories.ts";
import { END_OF_TEXT } from "./tokenizer.ts";

/** How a file's documents are delimited. */
export type CorpusFormat = "text" | "paragraphs" | "jsonl";

/** One input of a corpus, with what identifies its content for the token cache. */
export type CorpusSource =
  | { kind: "file"; path: string; format: CorpusFormat; size: number; mtimeMs: number }
  | { kind: "builtin"; stories: number; seed: number };

export interface CorpusOptions {
  /** `auto` picks by extension: .jsonl/.ndjson → jsonl, .md → paragraphs, anything else → text. */
  format?: "auto" | CorpusFormat;
  /** Field holding the text in jsonl records (default `text`). */
  textField?: string;
  /** Stories `builtin:stories` generates (default 20000). */
  builtinStories?: number;
  builtinSeed?: number;
}

/** The spec that selects the built-in story generator. */
export const BUILTIN_STORIES = "builtin:stories";

const CHUNK_BYTES = 1 << 20;
/** A document longer than this (in UTF-16 units) with no separator is cut at a line break to bound memory. */
const MAX_DOC_CHARS = 8 << 20;

/** Expands specs into sources, checking each exists; fails on an empty list or a missing path. */
export async function resolveCorpus(
  specs: readonly string[],
  opts: CorpusOptions = {},
): Promise<CorpusSource[]> {
  if (specs.length === 0) {
    throw new UsageError("Cannot read corpus: no paths given", {
      hint: "set data.train, or use builtin:stories",
    });
  }
  const out: CorpusSource[] = [];
  for (const spec of specs) {
    if (spec === BUILTIN_STORIES) {
      out.push({ kind: "builtin", stories: opts.builtinStories ?? 20000, seed: opts.builtinSeed ?? 1 });
      continue;
    }
    if (spec.startsWith("builtin:")) {
      throw new UsageError(`Cannot read corpus: unknown built-in corpus '${spec}'`, {
        hint: `use ${BUILTIN_STORIES}`,
      });
    }
    for (const path of await expandPath(spec)) {
      const info = await Deno.stat(path);
      if (!info.isFile) throw new UsageError(`Cannot read corpus: '${path}' is not a regular file`);
      out.push({
        kind: "file",
        path,
        format: formatOf(path, opts.format ?? "auto"),
        size: info.size,
        mtimeMs: info.mtime?.getTime() ?? 0,
      });
    }
  }
  return out;
}

/** The format a file is read as. */
export function formatOf(path: string, format: "auto" | CorpusFormat): CorpusFormat {
  if (format !== "auto") return format;
  if (/\.(jsonl|ndjson)$/i.test(path)) return "jsonl";
  if (/\.(md|markdown)$/i.test(path)) return "paragraphs";
  return "text";
}

/** A short human description of sources, for logs and errors. */
export function describeSources(sources: readonly CorpusSource[]): string {
  const names = sources.map((s) =>
    s.kind === "builtin" ? `${BUILTIN_STORIES}(${s.stories}, seed ${s.seed})` : s.path
  );
  return names.length <= 3
    ? names.join(", ")
    : `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`;
}

/**
 * The documents of all sources in order, trimmed, empty ones skipped. Fails with a UsageError on invalid UTF-8
 * (file and byte offset), a bad jsonl line (file:line), or when the sources hold no document at all.
 */
export async function* readCorpus(
  sources: readonly CorpusSource[],
  opts: CorpusOptions = {},
): AsyncGenerator<string> {
  let any = false;
  for (const src of sources) {
    const docs = src.kind === "builtin"
      ? generateStories({ count: src.stories, seed: src.seed })
      : readFileDocuments(src.path, src.format, opts.textField ?? "text");
    for await (const doc of docs) {
      any = true;
      yield doc;
    }
  }
  if (!any) {
    throw new UsageError(`Cannot read corpus: no text in ${describeSources(sources)}`, {
      hint: "the files are empty or hold only whitespace; point data.train at your stories",
    });
  }
}

/** Decoded text of a file in chunks that never split a character; invalid UTF-8 fails with its byte offset. */
export async function* readTextChunks(path: string): AsyncGenerator<string> {
  using file = await Deno.open(path);
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const buf = new Uint8Array(CHUNK_BYTES);
  let carry = new Uint8Array(0), offset = 0, first = true;
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    const data = new Uint8Array(carry.length + n);
    data.set(carry);
    data.set(buf.subarray(0, n), carry.length);
    const cut = completePrefix(data);
    let text: string;
    try {
      text = decoder.decode(data.subarray(0, cut));
    } catch {
      throw invalidUtf8(path, offset + Math.max(0, firstInvalidUtf8(data.subarray(0, cut))));
    }
    if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    first = false;
    carry = data.slice(cut);
    offset += cut;
    if (text.length > 0) yield text;
  }
  if (carry.length > 0) throw invalidUtf8(path, offset);
}

function invalidUtf8(path: string, offset: number): UsageError {
  return new UsageError(`Cannot read ${path}: invalid UTF-8 at byte offset ${offset}`, {
    hint: "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)",
  });
}

/** The documents of one file. */
export async function* readFileDocuments(
  path: string,
  format: CorpusFormat,
  textField = "text",
): AsyncGenerator<string> {
  if (format === "jsonl") return yield* readJsonl(path, textField);
  const sep = format === "text" ? END_OF_TEXT : /\n[ \t\r]*\n/;
  let pending = "";
  for await (const chunk of readTextChunks(path)) {
    pending += chunk;
    const parts = pending.split(sep);
    pending = parts.pop()!;
    for (const p of parts) {
      const doc = p.trim();
      if (doc.length > 0) yield doc;
    }
    if (pending.length > MAX_DOC_CHARS) {
      const cut = pending.lastIndexOf("\n") + 1 || pending.length;
      const doc = pending.slice(0, cut).trim();
      pending = pending.slice(cut);
      if (doc.length > 0) yield doc;
    }
  }
  const last = pending.trim();
  if (last.length > 0) yield last;
}

async function* readJsonl(path: string, field: string): AsyncGenerator<string> {
  let pending = "", line = 0;
  const parse = (text: string): string | null => {
    line++;
    if (text.trim().length === 0) return null;
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`Cannot read ${path}:${line}: not JSON (${(err as Error).message})`, {
        hint: "a .jsonl file holds one JSON object per line",
      });
    }
    const value = (rec as Record<string, unknown> | null)?.[field];
    if (typeof value !== "string") {
      throw new UsageError(`Cannot read ${path}:${line}: no string field '${field}'`, {
        hint: "set data.text_field to the field that holds the text",
      });
    }
    return value.trim() || null;
  };
  for await (const chunk of readTextChunks(path)) {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) {
      const doc = parse(l);
      if (doc !== null) yield doc;
    }
  }
  if (pending.length > 0) {
    const doc = parse(pending);
    if (doc !== null) yield doc;
  }
}
