/** guard() and listen(): security headers, Host allowlist, cross-origin refusal, CORS, auth, body limits. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Hono } from "hono";
import { guard, type GuardOptions, HTML_CSP, listen, renderError } from "./mod.ts";
import { Htpasswd, sha256Line, timingSafeEqual } from "./auth.ts";
import { FixableError, UsageError } from "../errors.ts";

function appWith(opts: Partial<GuardOptions> = {}): Hono {
  const app = new Hono();
  app.onError(renderError);
  app.use("*", guard({ host: "127.0.0.1", port: 5000, ...opts }));
  app.get("/health", (c) => c.text("OK"));
  app.get("/page", (c) => c.html("<p>hi</p>"));
  app.get("/data", (c) => c.json({ ok: true }));
  app.post("/echo", async (c) => c.json({ n: (await c.req.arrayBuffer()).byteLength }));
  return app;
}

Deno.test("every response carries nosniff and DENY; HTML gets the CSP", async () => {
  const app = appWith();
  const page = await app.request("/page");
  assert.equal(page.headers.get("X-Content-Type-Options"), "nosniff");
  assert.equal(page.headers.get("X-Frame-Options"), "DENY");
  assert.equal(page.headers.get("Content-Security-Policy"), HTML_CSP);
  const data = await app.request("/data");
  assert.equal(data.headers.get("X-Content-Type-Options"), "nosniff");
  assert.equal(data.headers.get("Content-Security-Policy"), null);
  assert.equal(data.headers.get("Access-Control-Allow-Origin"), null, "no CORS unless asked");
  const refused = await app.request("http://evil.example/data");
  assert.equal(refused.headers.get("X-Frame-Options"), "DENY");
});

Deno.test("Host allowlist: loopback names and the bound host pass, others get 403 (DNS rebinding)", async () => {
  const app = appWith({ host: "10.1.2.3", allowedHosts: ["tracker.lan", "*.corp.example", "box:8080"] });
  for (
    const host of [
      "localhost:5000",
      "127.0.0.1:5000",
      "[::1]:5000",
      "10.1.2.3:5000",
      "LOCALHOST",
      "tracker.lan",
    ]
  ) {
    const res = await app.request("/data", { headers: { Host: host } });
    assert.equal(res.status, 200, host);
  }
  for (const host of ["a.corp.example", "box:8080"]) {
    assert.equal((await app.request("/data", { headers: { Host: host } })).status, 200, host);
  }
  for (
    const host of ["evil.com", "attacker.localhost.evil.com", "corp.example.evil", "box:8081", "10.1.2.4"]
  ) {
    const res = await app.request("/data", { headers: { Host: host } });
    assert.equal(res.status, 403, host);
    assert.equal((await res.json()).error_code, "PERMISSION_DENIED");
  }
  const wild = appWith({ host: "0.0.0.0" });
  assert.equal((await wild.request("/data", { headers: { Host: "0.0.0.0:5000" } })).status, 403);
  assert.equal((await appWith({ allowedHosts: ["*"] }).request("http://any.host/data")).status, 200);
});

Deno.test("cross-origin writes are refused unless the origin is configured, which also turns CORS on", async () => {
  const app = appWith();
  const post = (a: Hono, origin: string) =>
    a.request("/echo", { method: "POST", headers: { Origin: origin, Host: "localhost:5000" }, body: "x" });
  assert.equal((await post(app, "http://evil.example")).status, 403);
  assert.equal((await post(app, "http://localhost:5000")).status, 200, "same origin");
  const withCors = appWith({ corsOrigins: ["http://ui.example"] });
  const ok = await post(withCors, "http://ui.example");
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("Access-Control-Allow-Origin"), "http://ui.example");
  const pre = await withCors.request("/echo", {
    method: "OPTIONS",
    headers: { Origin: "http://ui.example", "Access-Control-Request-Method": "POST" },
  });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get("Access-Control-Allow-Methods") ?? "", /POST/);
  assert.equal((await post(withCors, "http://other.example")).status, 403);
});

Deno.test("Bearer token: missing or wrong → 401 with a challenge, right → 200; /health stays open", async () => {
  const app = appWith({ authToken: "s3cret-token-123" });
  const res = await app.request("/data");
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("WWW-Authenticate"), "Bearer");
  assert.equal((await res.json()).error_code, "UNAUTHENTICATED");
  for (
    const h of ["Bearer s3cret-token-12", "Bearer s3cret-token-1234", "Basic czNjcmV0", "s3cret-token-123"]
  ) {
    assert.equal((await app.request("/data", { headers: { Authorization: h } })).status, 401, h);
  }
  assert.equal(
    (await app.request("/data", { headers: { Authorization: "Bearer s3cret-token-123" } })).status,
    200,
  );
  assert.equal((await app.request("/health")).status, 200);
  assert.throws(() => guard({ host: "127.0.0.1", port: 1, authToken: "short" }), UsageError);
});

Deno.test("basic auth from an htpasswd file: {SHA} and sha256: lines; other formats refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-auth-" });
  try {
    const file = join(dir, "htpasswd");
    // {SHA} of "password" as `htpasswd -s` writes it.
    const lines = [
      "# users",
      "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
      await sha256Line("bob", "hunter2 ü"),
    ];
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const app = appWith({ htpasswdFile: file });
    const basic = (u: string, p: string) => ({
      Authorization: "Basic " + btoa(String.fromCharCode(...new TextEncoder().encode(`${u}:${p}`))),
    });
    const denied = await app.request("/data");
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get("WWW-Authenticate") ?? "", /^Basic realm=/);
    assert.equal((await app.request("/data", { headers: basic("alice", "password") })).status, 200);
    assert.equal((await app.request("/data", { headers: basic("bob", "hunter2 ü") })).status, 200);
    assert.equal((await app.request("/data", { headers: basic("alice", "Password") })).status, 401);
    assert.equal((await app.request("/data", { headers: basic("carol", "password") })).status, 401);
    assert.equal((await app.request("/data", { headers: { Authorization: "Basic !!!" } })).status, 401);

    for (
      const [line, why] of [
        ["dave:$2y$05$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", /bcrypt/],
        ["dave:$apr1$salt$hash", /MD5/],
        ["dave:plaintext", /plain-text/],
        ["dave:{SHA}short", /base64|20 bytes/],
        ["dave:sha256:salt:nothex", /64 hex/],
        ["no-colon-line", /user:hash/],
      ] as const
    ) {
      assert.throws(
        () => new Htpasswd(line, "f"),
        (e: unknown) => e instanceof UsageError && why.test(e.message),
      );
    }
    assert.throws(() => new Htpasswd("# empty\n", "f"), /no users/);
    assert.throws(
      () => guard({ host: "127.0.0.1", port: 1, htpasswdFile: join(dir, "missing") }),
      UsageError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("timingSafeEqual compares whole byte strings", () => {
  assert.ok(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])));
  assert.ok(!timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])));
  assert.ok(!timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])));
});

Deno.test("body limit: declared and streamed bodies over the limit get 413, smaller ones pass", async () => {
  const app = appWith({ maxBodyBytes: 1000 });
  const ok = await app.request("/echo", { method: "POST", body: new Uint8Array(1000) });
  assert.deepEqual(await ok.json(), { n: 1000 });
  const declared = await app.request("/echo", {
    method: "POST",
    body: new Uint8Array(1001),
    headers: { "Content-Length": "1001" },
  });
  assert.equal(declared.status, 413);
  assert.equal((await declared.json()).error_code, "REQUEST_LIMIT_EXCEEDED");
  const stream = new ReadableStream<Uint8Array>({
    start(ctl) {
      for (let i = 0; i < 5; i++) ctl.enqueue(new Uint8Array(300));
      ctl.close();
    },
  });
  const chunked = await app.request("/echo", { method: "POST", body: stream });
  assert.equal(chunked.status, 413);
  assert.equal(chunked.headers.get("X-Content-Type-Options"), "nosniff");
});

Deno.test("listen: ephemeral port, a reachable URL, a warning only for non-loopback hosts without auth", async () => {
  const app = appWith();
  const warnings: string[] = [];
  let seen = "";
  const srv = listen(app, {
    host: "127.0.0.1",
    port: 0,
    authEnabled: false,
    name: "test server",
    warn: (m) => warnings.push(m),
    onListen: (u) => (seen = u),
  });
  try {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(seen, srv.url);
    const res = await fetch(`${srv.url}/data`);
    assert.deepEqual(await res.json(), { ok: true });
    assert.equal(warnings.length, 0);
  } finally {
    await srv.shutdown();
  }
  const open = listen(app, {
    host: "0.0.0.0",
    port: 0,
    authEnabled: false,
    name: "test server",
    warn: (m) => warnings.push(m),
  });
  await open.shutdown();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /without authentication/);
  assert.match(open.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const authed = listen(app, {
    host: "0.0.0.0",
    port: 0,
    authEnabled: true,
    name: "t",
    warn: (m) => warnings.push(m),
  });
  await authed.shutdown();
  assert.equal(warnings.length, 1);
});

Deno.test("listen on a port in use fails with the address and a hint, not the OS error alone", async () => {
  const app = new Hono();
  const first = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "first" });
  try {
    const port = Number(new URL(first.url).port);
    assert.throws(
      () => listen(app, { host: "127.0.0.1", port, authEnabled: false, name: "second server" }),
      (err: unknown) =>
        err instanceof FixableError &&
        err.message ===
          `Cannot start the second server on 127.0.0.1:${port}: the address is already in use` &&
        /--port/.test(err.hint),
    );
  } finally {
    await first.shutdown();
  }
});
