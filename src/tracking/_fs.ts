/**
 * Crash-safe file primitives for the file store: whole-file writes go to a temp file in the owning entity's
 * directory and are renamed into place; metric lines are appended whole (a torn tail is cut, a failed write
 * rolled back); locks use flock.
 */
import { dirname, join } from "node:path";

/** Text of a file, or null when it does not exist. */
export function readTextOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return null;
    throw err;
  }
}

/** `readTextOrNull` with an asynchronous read. */
export async function readTextOrNullAsync(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return null;
    throw err;
  }
}

/** Up to `length` bytes of `file` from `offset` (fewer at the end of the file). */
export async function readRange(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(Math.max(0, length));
  let got = 0;
  while (got < out.length) {
    const n = await file.read(out.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return out.subarray(0, got);
}

/** `readRange` with synchronous reads (seeks even to 0: the file may have been read before). */
export function readRangeSync(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  file.seekSync(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(Math.max(0, length));
  let got = 0;
  while (got < out.length) {
    const n = file.readSync(out.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return out.subarray(0, got);
}

export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Modification time in ms (0 when missing). */
export function mtimeOf(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

let tmpCounter = 0;
const TMP_PREFIX = ".st-tmp-";

/**
 * Writes `text` to `path` atomically: a temp file in `tmpDir` (a directory MLflow does not interpret as
 * entries, e.g. the run directory for a tag file) is renamed over the target, so readers see old or new.
 */
export function writeAtomic(path: string, text: string, tmpDir = dirname(path)): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = join(tmpDir, `${TMP_PREFIX}${Deno.pid}-${++tmpCounter}-${crypto.randomUUID().slice(0, 8)}`);
  Deno.writeTextFileSync(tmp, text);
  try {
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
    throw err;
  }
}

/**
 * Creates `path` with `text` only if it does not exist yet (atomic: temp file + hard link).
 * Returns false when the file already existed.
 */
export function createExclusive(path: string, text: string, tmpDir = dirname(path)): boolean {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = join(tmpDir, `${TMP_PREFIX}${Deno.pid}-${++tmpCounter}-${crypto.randomUUID().slice(0, 8)}`);
  Deno.writeTextFileSync(tmp, text);
  try {
    Deno.linkSync(tmp, path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  } finally {
    Deno.removeSync(tmp);
  }
}

const encoder = new TextEncoder();

/**
 * Appends whole lines (`text` ends with "\n") so that the file always ends at a line boundary, as a reader needs:
 * under an exclusive flock on the file (storyteller appenders take turns), a tail without its newline — left by a
 * writer that crashed or failed mid-line, so never a committed line — is cut off first, and a write that fails
 * part-way (disk full) is truncated back. O_APPEND keeps writers that do not lock (MLflow) from overwriting lines.
 */
export function appendText(path: string, text: string): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const f = Deno.openSync(path, { read: true, append: true, create: true });
  try {
    f.lockSync(true);
    const start = cutTornTail(f);
    const bytes = encoder.encode(text);
    let written = 0;
    try {
      while (written < bytes.length) written += f.writeSync(bytes.subarray(written));
    } catch (err) {
      rollBack(f, start, written);
      throw err;
    }
  } finally {
    f.close();
  }
}

/** Undoes a failed append: back to `start` when only our bytes follow it, else just the torn tail. */
function rollBack(f: Deno.FsFile, start: number, written: number): void {
  try {
    if (f.statSync().size === start + written) f.truncateSync(start);
    else cutTornTail(f);
  } catch { /* the next append cuts the tail */ }
}

/**
 * Truncates `f` after its last "\n" when it does not end with one (an empty file stays empty); returns the size.
 * Reads backwards in 4 KiB blocks, so an intact file costs one 1-byte read.
 */
export function cutTornTail(f: Deno.FsFile): number {
  const size = f.statSync().size;
  if (size === 0 || readRangeSync(f, size - 1, 1)[0] === 10) return size;
  let end = size - 1;
  while (end > 0) {
    const from = Math.max(0, end - 4096);
    const nl = readRangeSync(f, from, end - from).lastIndexOf(10);
    if (nl >= 0) {
      f.truncateSync(from + nl + 1);
      return from + nl + 1;
    }
    end = from;
  }
  f.truncateSync(0);
  return 0;
}

/** Relative paths (with `/`) of all files under `dir`, recursively; hidden temp files are skipped. */
export function listFilesRecursive(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(abs)];
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith(TMP_PREFIX)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) walk(join(abs, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, "");
  return out;
}

/** `listFilesRecursive` with asynchronous directory reads (sub-directories in parallel, same order). */
export async function listFilesRecursiveAsync(dir: string): Promise<string[]> {
  const walk = async (abs: string, rel: string): Promise<string[]> => {
    const parts: (string[] | Promise<string[]>)[] = [];
    try {
      for await (const e of Deno.readDir(abs)) {
        if (e.name.startsWith(TMP_PREFIX)) continue;
        const r = rel ? `${rel}/${e.name}` : e.name;
        parts.push(e.isDirectory ? walk(join(abs, e.name), r) : [r]);
      }
    } catch {
      return [];
    }
    return (await Promise.all(parts)).flat();
  };
  return await walk(dir, "");
}

/** Names of the sub-directories of `dir` (empty when missing). */
export function listDirs(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.isDirectory).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Runs `fn` while holding an exclusive flock on `lockPath` (released on exit and on crash). */
export function withLock<T>(lockPath: string, fn: () => T): T {
  Deno.mkdirSync(dirname(lockPath), { recursive: true });
  const f = Deno.openSync(lockPath, { read: true, write: true, create: true });
  try {
    f.lockSync(true);
    return fn();
  } finally {
    f.close();
  }
}

/** Copies a file or directory tree into place (directories merge). */
export function copyTree(src: string, dst: string): void {
  const st = Deno.statSync(src);
  if (st.isDirectory) {
    Deno.mkdirSync(dst, { recursive: true });
    for (const e of Deno.readDirSync(src)) copyTree(join(src, e.name), join(dst, e.name));
  } else {
    Deno.mkdirSync(dirname(dst), { recursive: true });
    Deno.copyFileSync(src, dst);
  }
}
