/**
 * listen()'s connection limits over loopback with raw TCP clients: idle and slow clients are closed, trickled
 * bodies get 408, requests in progress are never cut, the connection cap queues, shutdown closes everything.
 * Timeouts are a few hundred ms; bounds on when something must have happened are generous (10 s).
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { type ConnectionLimits, listen } from "./listen.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(app: Hono, limits: Partial<ConnectionLimits>) {
  const srv = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "test server", limits });
  return { ...srv, port: Number(new URL(srv.url).port) };
}

/**
 * Reads `conn` until the server closes it (EOF or reset): resolves to what was read, or to null if it is still open
 * after `boundMs` (the connection is closed then). `trickle` writes one more byte every 50 ms meanwhile.
 */
async function untilClosed(conn: Deno.Conn, boundMs = 10_000, trickle?: string): Promise<string | null> {
  let text = "";
  let timedOut = false;
  const bound = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, boundMs);
  const writer = trickle === undefined ? undefined : setInterval(() => {
    conn.write(enc.encode(trickle)).catch(() => {});
  }, 50);
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n));
    }
  } catch { /* reset by the server, or closed by the bound */ }
  clearTimeout(bound);
  clearInterval(writer);
  if (!timedOut) conn.close();
  return timedOut ? null : text;
}

Deno.test("listen: silent, half-sent-header, trickled-header and idle keep-alive connections are closed", async () => {
  const app = new Hono().get("/", (c) => c.text("ok"));
  const srv = start(app, { headerTimeoutMs: 300 });
  try {
    const connect = () => Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    const silent = await connect();
    const partialLine = await connect();
    await partialLine.write(enc.encode("GE"));
    const trickled = await connect();
    await trickled.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n"));
    const keepAlive = await connect();
    await keepAlive.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    const [a, b, c, d] = await Promise.all([
      untilClosed(silent),
      untilClosed(partialLine),
      untilClosed(trickled, 10_000, "X"),
      untilClosed(keepAlive),
    ]);
    assert.equal(a, "");
    assert.equal(b, "");
    assert.equal(c, "", "a header trickled byte by byte does not hold the connection");
    assert.match(d ?? "null", /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/, "answered, then closed when idle");
  } finally {
    await srv.shutdown();
  }
});

Deno.test("listen: a trickled body gets 408 and its connection closes; a body at a fair rate passes", async () => {
  const app = new Hono().post("/", async (c) => c.text(`${(await c.req.text()).length} bytes`));
  const srv = start(app, { bodyTimeoutMs: 300, bodyMinRate: 10_000 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    await conn.write(enc.encode("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nab"));
    const answer = await untilClosed(conn, 10_000, "z");
    assert.match(answer ?? "null", /^HTTP\/1\.1 408 /);
    const body = JSON.parse(answer!.slice(answer!.indexOf("\r\n\r\n") + 4));
    assert.equal(body.error_code, "DEADLINE_EXCEEDED");
    assert.match(body.message, /^Cannot read the request body: \d+ bytes arrived in [\d.]+ s, too slowly/);

    const res = await fetch(srv.url, { method: "POST", body: "x".repeat(1 << 20) });
    assert.equal(await res.text(), `${1 << 20} bytes`);
  } finally {
    await srv.shutdown();
  }
});

Deno.test("listen: a request in progress keeps its connection past the header timeout", async () => {
  const app = new Hono()
    .get("/slow", async (c) => {
      await sleep(700);
      return c.text("late");
    })
    .get("/stream", () => {
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (i === 3) return ctl.close();
          if (i++ > 0) await sleep(300);
          ctl.enqueue(enc.encode(`${i};`));
        },
      });
      return new Response(body);
    });
  const srv = start(app, { headerTimeoutMs: 200 });
  try {
    assert.equal(await (await fetch(`${srv.url}/slow`)).text(), "late");
    assert.equal(await (await fetch(`${srv.url}/stream`)).text(), "1;2;3;");
  } finally {
    await srv.shutdown();
  }
});

Deno.test("listen: at maxConnections a new connection waits until one closes", async () => {
  const app = new Hono().get("/", (c) => c.text("ok"));
  const srv = start(app, { maxConnections: 1 });
  try {
    // The holder's answer shows it was accepted; keep-alive then holds the one slot.
    const holder = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    await holder.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    assert.equal((await holder.read(new Uint8Array(4096)) ?? 0) > 0, true);
    let answered = false;
    const waiting = fetch(srv.url).then(async (res) => {
      answered = true;
      return await res.text();
    });
    await sleep(300);
    assert.equal(answered, false, "no answer while the only slot is held");
    holder.close();
    assert.equal(await waiting, "ok");
  } finally {
    await srv.shutdown();
  }
});

Deno.test("listen: a client that stops reading is closed after sendTimeoutMs, and the body stream cancelled", async () => {
  let sent = 0;
  let cancelled = false;
  const app = new Hono().get("/", () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (sent >= 1 << 30) return ctl.close(); // 1 GiB: far more than the socket buffers hold
          sent += 1 << 16;
          ctl.enqueue(new Uint8Array(1 << 16));
        },
        cancel() {
          cancelled = true;
        },
      }),
    ));
  const srv = start(app, { sendTimeoutMs: 300 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    const deadline = Date.now() + 10_000;
    while (!cancelled && Date.now() < deadline) await sleep(20);
    assert.ok(cancelled, "the response body was cancelled");
    assert.ok(sent < 1 << 30, `${sent} bytes produced`);
    conn.close();
  } finally {
    await srv.shutdown();
  }
});

Deno.test("listen: a client that goes away aborts its request's signal", async () => {
  let entered = false;
  let sawAbort = false;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const app = new Hono().get("/", async (c) => {
    entered = true;
    c.req.raw.signal.addEventListener("abort", () => (sawAbort = true));
    await released;
    return c.text("late");
  });
  const srv = start(app, {});
  try {
    const client = new AbortController();
    const res = fetch(srv.url, { signal: client.signal }).catch(() => null);
    const deadline = Date.now() + 10_000;
    while (!entered && Date.now() < deadline) await sleep(10);
    client.abort();
    assert.equal(await res, null);
    while (!sawAbort && Date.now() < deadline) await sleep(20);
    assert.ok(sawAbort, "the handler's request signal aborted");
  } finally {
    release();
    await srv.shutdown();
  }
});

Deno.test("listen: shutdown closes idle connections and resolves server.finished", async () => {
  const app = new Hono().get("/", (c) => c.text("ok"));
  const srv = start(app, {});
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  await idle.write(enc.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  const closed = untilClosed(idle);
  await sleep(100);
  await srv.shutdown();
  await srv.server.finished;
  assert.match(await closed ?? "null", /\r\n\r\nok$/);
});
