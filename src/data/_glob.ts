/** File expansion for corpus paths: directories walked recursively, and `*`, `**`, `?`, `[...]` globs. */
import { UsageError } from "../errors.ts";

/** Extensions a directory walk picks up. */
export const CORPUS_EXTENSIONS = [".txt", ".text", ".md", ".jsonl", ".ndjson"];

/** Whether a path spec holds glob characters. */
export function isGlob(spec: string): boolean {
  return /[*?[]/.test(spec);
}

/** A regex for a glob over '/'-separated paths. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        re += "[" + glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\") + "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

async function* walk(dir: string): AsyncGenerator<string> {
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) entries.push(e);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = dir === "." ? e.name : `${dir.replace(/\/$/, "")}/${e.name}`;
    if (e.isDirectory) yield* walk(path);
    else if (e.isFile || e.isSymlink) yield path;
  }
}

/** The files a spec names: itself, the corpus files under a directory, or a glob's matches; sorted. */
export async function expandPath(spec: string): Promise<string[]> {
  if (isGlob(spec)) {
    const parts = spec.split("/");
    const firstGlob = parts.findIndex(isGlob);
    const base = parts.slice(0, firstGlob).join("/") || (spec.startsWith("/") ? "/" : ".");
    const re = globToRegExp(spec.startsWith("./") ? spec.slice(2) : spec);
    const out: string[] = [];
    try {
      for await (const f of walk(base)) if (re.test(f)) out.push(f);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (out.length === 0) {
      throw new UsageError(`Cannot read corpus: no files match '${spec}'`, {
        hint: "check the pattern and the working directory",
      });
    }
    return out;
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(spec);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot read corpus: '${spec}' does not exist`, {
        hint: "give a file, a directory, a glob such as 'data/*.txt', or builtin:stories",
      });
    }
    throw err;
  }
  if (!info.isDirectory) return [spec];
  const out: string[] = [];
  for await (const f of walk(spec)) if (CORPUS_EXTENSIONS.some((x) => f.endsWith(x))) out.push(f);
  if (out.length === 0) {
    throw new UsageError(
      `Cannot read corpus: directory '${spec}' holds no ${CORPUS_EXTENSIONS.join("/")} files`,
    );
  }
  return out;
}
