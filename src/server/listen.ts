/**
 * `listen()`: serves a Hono app on host:port (0 = ephemeral) with the connection timeouts and limit a production
 * HTTP server has, the non-loopback warning and a URL a client can connect to. Not the place for signal handling
 * (the CLI owns the process).
 *
 * Deno.serve has no header, idle or body timeout and does not expose its connections: with Deno 2.9.6, silent,
 * half-sent-header, idle keep-alive and trickled-body connections all stayed open past 75 s. So the app runs on an
 * internal Deno.serve bound to 127.0.0.1:0, and listen() accepts the public connections itself and relays each one
 * to an internal connection of its own; the handler finds a request's public connection by the internal
 * connection's port, which tells the relay when a connection has no request in progress.
 */
import type { Hono } from "hono";
import { httpError } from "./errors.ts";
import { isLoopback } from "./guard.ts";
import { FixableError } from "../errors.ts";

/** How long a client may take, and how many connections may be open (see DEFAULT_CONNECTION_LIMITS). */
export interface ConnectionLimits {
  /**
   * Milliseconds a connection may go without a request in progress (before its first request's head is in, or
   * between keep-alive requests) before it is closed: this ends silent, half-sent-header and idle connections.
   */
  headerTimeoutMs: number;
  /** Milliseconds a request body may take to arrive, from its head, before it fails with 408 ... */
  bodyTimeoutMs: number;
  /** ... plus one second per this many bytes received (a large upload at a fair rate is never cut). */
  bodyMinRate: number;
  /** Milliseconds a write to a client that does not read may stall before the connection is closed. */
  sendTimeoutMs: number;
  /** Open connections at most; more wait in the listen queue until one closes. */
  maxConnections: number;
}

/** Defaults in the range of nginx's, hyper's and Apache mod_reqtimeout's (body=20,MinRate=500). */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headerTimeoutMs: 30_000,
  bodyTimeoutMs: 20_000,
  bodyMinRate: 500,
  sendTimeoutMs: 60_000,
  maxConnections: 1024,
};

/** A running server. */
export interface Listening {
  /** `http://host:port` (a wildcard bind address is reported as 127.0.0.1, which a local client can reach). */
  url: string;
  /** The public side: `addr` is the bound address, `finished` resolves once shut down. */
  server: Deno.HttpServer<Deno.NetAddr>;
  /** Stops accepting, lets in-flight requests finish, closes every connection, resolves when closed. */
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
  /** Overrides of DEFAULT_CONNECTION_LIMITS. */
  limits?: Partial<ConnectionLimits>;
}

function urlOf(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === ""
    ? "127.0.0.1"
    : host === "::" || host === "[::]"
    ? "[::1]"
    : host;
  return `http://${h.includes(":") && !h.startsWith("[") ? `[${h}]` : h}:${port}`;
}

/** One public connection and its internal twin. */
interface Connection {
  client: Deno.TcpConn;
  inner?: Deno.TcpConn;
  /** Requests whose response is not sent yet. */
  active: number;
  /** A request body ran out of time: drop what the client still sends, and end after the 408. */
  expired: boolean;
  idleTimer?: ReturnType<typeof setTimeout>;
  closed: boolean;
}

function closeConnection(c: Connection): void {
  if (c.closed) return;
  c.closed = true;
  clearTimeout(c.idleTimer);
  for (const conn of [c.client, c.inner]) {
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}

/**
 * Copies `from` to `to` until EOF ("eof") or a failure ("error"), dropping what is read while `drop()`; a write
 * stalled past `stallMs` closes `c`.
 */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  c: Connection,
  stallMs: number,
  drop = () => false,
): Promise<"eof" | "error"> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) return "eof";
      for (let off = drop() ? n : 0; off < n;) {
        const timer = stallMs > 0 ? setTimeout(() => closeConnection(c), stallMs) : undefined;
        try {
          off += await to.write(buf.subarray(off, n));
        } finally {
          clearTimeout(timer);
        }
      }
    }
  } catch {
    return "error";
  }
}

/**
 * `req` with a body that must arrive within `bodyTimeoutMs` plus a second per `bodyMinRate` bytes received, or
 * fails with 408 (then `onExpire` runs); `stop()` ends the deadline once the request is answered.
 */
function withBodyDeadline(
  req: Request,
  limits: ConnectionLimits,
  onExpire: () => void,
): { request: Request; stop: () => void } {
  if (!req.body) return { request: req, stop: () => {} };
  const started = performance.now();
  let received = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => clearTimeout(timer);
  const body = req.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(ctl) {
        // One timer, re-armed lazily: the deadline only moves later as bytes come in.
        const check = () => {
          const deadline = started + limits.bodyTimeoutMs + (received / limits.bodyMinRate) * 1000;
          const left = deadline - performance.now();
          if (left > 0) {
            timer = setTimeout(check, left);
            return;
          }
          onExpire();
          const seconds = ((performance.now() - started) / 1000).toFixed(1);
          ctl.error(httpError(
            408,
            "DEADLINE_EXCEEDED",
            `Cannot read the request body: ${received} bytes arrived in ${seconds} s, too slowly (the server ` +
              `allows ${limits.bodyTimeoutMs / 1000} s plus 1 s per ${limits.bodyMinRate} bytes)`,
          ));
        };
        timer = setTimeout(check, limits.bodyTimeoutMs);
      },
      transform(chunk, ctl) {
        received += chunk.byteLength;
        ctl.enqueue(chunk);
      },
      flush: stop,
    }),
  );
  return { request: new Request(req, { body }), stop };
}

/**
 * Starts `app` on `opts.host:opts.port`; warns when the host is not loopback and auth is off. Connections follow
 * `opts.limits` (DEFAULT_CONNECTION_LIMITS otherwise).
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
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
  if (!isLoopback(opts.host) && !opts.authEnabled) {
    warn(
      `the ${opts.name} listens on ${opts.host} without authentication: anyone who can reach this address can ` +
        `read and change its data (use --auth-token or --htpasswd, or bind 127.0.0.1)`,
    );
  }
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: opts.host.replace(/^\[|\]$/g, ""), port: opts.port });
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

  const open = new Set<Connection>();
  const byInnerPort = new Map<number, Connection>();
  const relays = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined; // wakes the accept loop waiting at maxConnections
  let stopping = false;
  const idle = (c: Connection) => {
    if (c.closed) return;
    clearTimeout(c.idleTimer);
    c.idleTimer = setTimeout(() => closeConnection(c), limits.headerTimeoutMs);
  };
  const serveInner = () =>
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => {
        const c = byInnerPort.get(info.remoteAddr.port);
        if (!c) return app.fetch(req, info); // a local client that connected to the internal port itself
        c.active++;
        clearTimeout(c.idleTimer);
        const { request, stop } = withBodyDeadline(req, limits, () => (c.expired = true));
        const done = () => {
          stop();
          if (--c.active > 0) return;
          idle(c);
          // After a 408 the connection ends: EOF makes Deno close its side once the answer is out, then the relay.
          if (c.expired) c.inner?.closeWrite().catch(() => closeConnection(c));
        };
        info.completed.then(done, done);
        return app.fetch(request, info);
      },
    );
  let inner: Deno.HttpServer<Deno.NetAddr>;
  try {
    inner = serveInner();
  } catch (err) {
    listener.close();
    throw err;
  }
  const innerPort = inner.addr.port;

  const relay = async (client: Deno.TcpConn) => {
    const c: Connection = { client, active: 0, expired: false, closed: false };
    open.add(c);
    try {
      idle(c); // the head of the first request is due from now
      c.inner = await Deno.connect({ hostname: "127.0.0.1", port: innerPort });
      if (c.closed) return c.inner.close(); // timed out while connecting
      byInnerPort.set(c.inner.localAddr.port, c);
      const up = pump(client, c.inner, c, 0, () => c.expired).then(async (end) => {
        // A client that half-closes still gets its answer.
        if (end === "eof") await c.inner!.closeWrite().catch(() => closeConnection(c));
        else closeConnection(c);
      });
      await pump(c.inner, client, c, limits.sendTimeoutMs);
      closeConnection(c);
      await up;
    } catch {
      closeConnection(c);
    } finally {
      if (c.inner) byInnerPort.delete(c.inner.localAddr.port);
      open.delete(c);
      slotFreed?.();
    }
  };

  const accepting = (async () => {
    for (;;) {
      while (open.size >= limits.maxConnections && !stopping) await new Promise<void>((r) => (slotFreed = r));
      if (stopping) return;
      let client: Deno.TcpConn;
      try {
        client = await listener.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
        // Out of file descriptors and the like: wait, then accept again rather than stop serving.
        console.error(`storyteller ${opts.name}: cannot accept a connection: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const r = relay(client);
      relays.add(r);
      r.finally(() => relays.delete(r));
    }
  })();

  let closing: Promise<void> | undefined;
  let finished!: () => void;
  const server: Deno.HttpServer<Deno.NetAddr> = {
    addr: listener.addr,
    finished: new Promise<void>((r) => (finished = r)),
    ref: () => (listener.ref(), inner.ref()),
    unref: () => (listener.unref(), inner.unref()),
    shutdown: () =>
      closing ??= (async () => {
        stopping = true;
        try {
          listener.close();
        } catch { /* already closed */ }
        slotFreed?.();
        await accepting;
        await inner.shutdown(); // in-flight requests finish
        for (const c of open) closeConnection(c);
        await Promise.allSettled(relays);
        finished();
      })(),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
  const url = urlOf(opts.host, listener.addr.port);
  opts.onListen?.(url);
  return { url, server, shutdown: () => server.shutdown() };
}
