/**
 * Token files: flat little-endian uint16 (vocab ≤ 65536) or uint32 ids, the format torch_reference.py reads with
 * --train-tokens. Written in chunks to a temp file and renamed into place, so a reader never sees half a file.
 * (Typed arrays are host-endian; every platform Deno ships for is little-endian.)
 */

/** A tokenized corpus in memory. */
export type TokenArray = Uint16Array | Uint32Array;

/** Element type of a token file. */
export type TokenDtype = "uint16" | "uint32";

/** uint16 when every id fits, else uint32. */
export function tokenDtype(vocabSize: number): TokenDtype {
  return vocabSize <= 65536 ? "uint16" : "uint32";
}

/** Hex SHA-256 of a string (cache keys). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A temp path beside `path`, renamed onto it by the writer. */
export function tempPathFor(path: string): string {
  return `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

const FLUSH_TOKENS = 1 << 20;

/** Streams ids into a token file: `push` as they come, `commit` renames the finished file into place. */
export class TokenFileWriter {
  readonly path: string;
  readonly dtype: TokenDtype;
  /** Ids written so far. */
  count = 0;
  #tmp: string;
  #file: Deno.FsFile;
  #buf: Uint16Array | Uint32Array;
  #n = 0;

  private constructor(path: string, dtype: TokenDtype, tmp: string, file: Deno.FsFile) {
    this.path = path;
    this.dtype = dtype;
    this.#tmp = tmp;
    this.#file = file;
    this.#buf = dtype === "uint16" ? new Uint16Array(FLUSH_TOKENS) : new Uint32Array(FLUSH_TOKENS);
  }

  static async create(path: string, dtype: TokenDtype): Promise<TokenFileWriter> {
    const tmp = tempPathFor(path);
    return new TokenFileWriter(path, dtype, tmp, await Deno.open(tmp, { write: true, createNew: true }));
  }

  async push(ids: readonly number[]): Promise<void> {
    for (let i = 0; i < ids.length; i++) {
      this.#buf[this.#n++] = ids[i];
      if (this.#n === this.#buf.length) await this.#flush();
    }
    this.count += ids.length;
  }

  async #flush(): Promise<void> {
    const bytes = new Uint8Array(this.#buf.buffer, 0, this.#n * this.#buf.BYTES_PER_ELEMENT);
    for (let off = 0; off < bytes.length;) off += await this.#file.write(bytes.subarray(off));
    this.#n = 0;
  }

  /** Flushes, closes and renames the temp file onto `path`. */
  async commit(): Promise<void> {
    await this.#flush();
    this.#file.close();
    await Deno.rename(this.#tmp, this.path);
  }

  /** Closes and deletes the temp file (after a failure). */
  async abort(): Promise<void> {
    try {
      this.#file.close();
    } catch { /* already closed */ }
    await Deno.remove(this.#tmp).catch(() => {});
  }
}

/** Reads a whole token file. */
export async function readTokenFile(path: string, dtype: TokenDtype): Promise<TokenArray> {
  const bytes = await Deno.readFile(path);
  const width = dtype === "uint16" ? 2 : 4;
  if (bytes.length % width !== 0) {
    throw new Error(`Cannot read token file ${path}: size ${bytes.length} is not a multiple of ${width}`);
  }
  return dtype === "uint16"
    ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)
    : new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

/** Writes a whole token array atomically. */
export async function writeTokenFile(path: string, tokens: TokenArray): Promise<void> {
  const tmp = tempPathFor(path);
  await Deno.writeFile(tmp, new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength));
  await Deno.rename(tmp, path);
}
