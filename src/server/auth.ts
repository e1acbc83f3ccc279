/**
 * Authentication for the servers: a Bearer token and/or basic auth against an htpasswd-style file whose hashes are
 * `{SHA}<base64 sha1>` (Apache's format) or `sha256:<salt>:<hex sha256(salt + password)>`. Every secret comparison
 * runs in constant time. No default credentials exist: without a token or a file, auth is off.
 */
import { UsageError } from "../errors.ts";

/** One htpasswd entry: how to check a password for a user. */
type Hash = { kind: "sha1"; digest: Uint8Array } | { kind: "sha256"; salt: string; digest: Uint8Array };

const enc = new TextEncoder();

async function digest(algo: "SHA-1" | "SHA-256", text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(algo, enc.encode(text)));
}

/** Compares two byte strings in time that depends only on their lengths (callers compare fixed-size digests). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function hexToBytes(hex: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

function parseHash(hash: string): Hash | string {
  if (hash.startsWith("{SHA}")) {
    try {
      const digest = Uint8Array.from(atob(hash.slice(5)), (ch) => ch.charCodeAt(0));
      return digest.length === 20 ? { kind: "sha1", digest } : "a {SHA} hash must be base64 of 20 bytes";
    } catch {
      return "a {SHA} hash must be base64";
    }
  }
  if (hash.startsWith("sha256:")) {
    const rest = hash.slice(7);
    const cut = rest.lastIndexOf(":");
    const salt = cut < 0 ? "" : rest.slice(0, cut);
    const digest = hexToBytes(cut < 0 ? rest : rest.slice(cut + 1));
    return digest ? { kind: "sha256", salt, digest } : "a sha256: hash must end in 64 hex digits";
  }
  if (/^\$2[abxy]?\$/.test(hash)) return "bcrypt hashes are not supported";
  if (hash.startsWith("$apr1$")) return "Apache MD5 ($apr1$) hashes are not supported";
  if (hash.startsWith("$")) return `'${hash.split("$").slice(0, 2).join("$")}$' hashes are not supported`;
  return "plain-text or crypt() passwords are not supported";
}

/** Users and their password hashes, read from an htpasswd-style file. */
export class Htpasswd {
  #users = new Map<string, Hash>();

  /** Parses the file text; `where` names the file in errors. Throws UsageError on any unsupported line. */
  constructor(text: string, where: string) {
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line || line.startsWith("#")) continue;
      const colon = line.indexOf(":");
      const user = colon < 0 ? "" : line.slice(0, colon);
      if (!user) {
        throw new UsageError(`Cannot read ${where}:${i + 1}: expected 'user:hash'`, {
          hint: HASH_HINT,
        });
      }
      const hash = parseHash(line.slice(colon + 1));
      if (typeof hash === "string") {
        throw new UsageError(`Cannot read ${where}:${i + 1}: ${hash} (user '${user}')`, { hint: HASH_HINT });
      }
      this.#users.set(user, hash);
    }
    if (this.#users.size === 0) {
      throw new UsageError(`Cannot use ${where} for basic auth: it lists no users`, { hint: HASH_HINT });
    }
  }

  /** Reads and parses an htpasswd file. */
  static load(path: string): Htpasswd {
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (err) {
      throw new UsageError(`Cannot read htpasswd file ${path}: ${(err as Error).message}`);
    }
    return new Htpasswd(text, path);
  }

  /** True when the user exists and the password matches (constant time in the password). */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.#users.get(user);
    if (!hash) {
      await digest("SHA-256", password); // same work for unknown users
      return false;
    }
    if (hash.kind === "sha1") return timingSafeEqual(await digest("SHA-1", password), hash.digest);
    return timingSafeEqual(await digest("SHA-256", hash.salt + password), hash.digest);
  }
}

/** How to write an htpasswd line (shown in errors and the CLI help). */
export const HASH_HINT = "write lines 'user:{SHA}<base64 sha1>' (htpasswd -s) or " +
  "'user:sha256:<salt>:<hex sha256 of salt+password>' (printf %s \"$SALT$PASS\" | sha256sum)";

/** An htpasswd line for `user` in the sha256 form, with a fresh random salt. */
export async function sha256Line(user: string, password: string): Promise<string> {
  const salt = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  const hex = [...await digest("SHA-256", salt + password)].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
  return `${user}:sha256:${salt}:${hex}`;
}

/** Checks an `Authorization` header against the configured token and users. */
export class Authenticator {
  #token?: Uint8Array<ArrayBuffer>;
  #users?: Htpasswd;

  constructor(opts: { authToken?: string; htpasswd?: Htpasswd }) {
    if (opts.authToken !== undefined) {
      if (opts.authToken.length < 8) {
        throw new UsageError("Cannot use --auth-token: it is shorter than 8 characters", {
          hint: "use a long random token, e.g. `openssl rand -hex 24`",
        });
      }
      this.#token = enc.encode(opts.authToken);
    }
    this.#users = opts.htpasswd;
  }

  /** Whether basic auth is configured (so a 401 should carry a Basic challenge). */
  get basic(): boolean {
    return this.#users !== undefined;
  }

  /** True when the header carries a valid Bearer token or valid basic credentials. */
  async check(header: string | undefined): Promise<boolean> {
    if (!header) return false;
    const space = header.indexOf(" ");
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === "bearer" && this.#token) {
      const [a, b] = await Promise.all([
        digest("SHA-256", value),
        crypto.subtle.digest("SHA-256", this.#token),
      ]);
      return timingSafeEqual(a, new Uint8Array(b));
    }
    if (scheme === "basic" && this.#users) {
      let decoded: string;
      try {
        decoded = new TextDecoder().decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0)));
      } catch {
        return false;
      }
      const colon = decoded.indexOf(":");
      if (colon < 0) return false;
      return await this.#users.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
    }
    return false;
  }
}
