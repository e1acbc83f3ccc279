/**
 * `listen()`: Deno.serve for a Hono app on host:port (0 = ephemeral), with the non-loopback warning and a URL a
 * client can connect to. Not the place for signal handling (the CLI owns the process).
 */
import type { Hono } from "hono";
import { isLoopback } from "./guard.ts";
import { FixableError } from "../errors.ts";

/** A running server. */
export interface Listening {
  /** `http://host:port` (a wildcard bind address is reported as 127.0.0.1, which a local client can reach). */
  url: string;
  server: Deno.HttpServer;
  /** Stops accepting, lets in-flight requests finish, resolves when closed. */
  shutdown(): Promise<void>;
}

/** Options of `listen`. */
export interface ListenOptions {
  host: string;
  port: number;
  /** Whether the app requires credentials (no warning for a non-loopback host then). */
  authEnabled: boolean;
  /** Names the server in the warning ("tracking server", "model server"). */
  name: string;
  onListen?: (url: string) => void;
  /** Where the warning goes (default stderr). */
  warn?: (message: string) => void;
}

function urlOf(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === ""
    ? "127.0.0.1"
    : host === "::" || host === "[::]"
    ? "[::1]"
    : host;
  return `http://${h.includes(":") && !h.startsWith("[") ? `[${h}]` : h}:${port}`;
}

/**
 * Starts `app` on `opts.host:opts.port`; warns when the host is not loopback and auth is off.
 *
 * @example
 * ```ts
 * const { url, shutdown } = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "tracking server" });
 * await fetch(`${url}/health`);
 * await shutdown();
 * ```
 */
export function listen(app: Hono, opts: ListenOptions): Listening {
  const warn = opts.warn ?? ((m: string) => console.error(`warning: ${m}`));
  if (!isLoopback(opts.host) && !opts.authEnabled) {
    warn(
      `the ${opts.name} listens on ${opts.host} without authentication: anyone who can reach this address can ` +
        `read and change its data (use --auth-token or --htpasswd, or bind 127.0.0.1)`,
    );
  }
  let server: Deno.HttpServer;
  try {
    server = Deno.serve(
      { hostname: opts.host.replace(/^\[|\]$/g, ""), port: opts.port, onListen: () => {} },
      app.fetch,
    );
  } catch (err) {
    const where = `${opts.host}:${opts.port}`;
    if (err instanceof Deno.errors.AddrInUse) {
      throw new FixableError(
        `Cannot start the ${opts.name} on ${where}: the address is already in use`,
        "pass another --port (0 picks a free one), or stop the process that holds it",
        { cause: err },
      );
    }
    if (err instanceof Deno.errors.AddrNotAvailable || err instanceof Deno.errors.PermissionDenied) {
      throw new FixableError(
        `Cannot start the ${opts.name} on ${where}: ${err.message}`,
        "bind an address of this machine (--host 127.0.0.1), and a port above 1023 unless running as root",
        { cause: err },
      );
    }
    throw err;
  }
  const addr = server.addr as Deno.NetAddr;
  const url = urlOf(opts.host, addr.port);
  opts.onListen?.(url);
  return { url, server, shutdown: () => server.shutdown() };
}
