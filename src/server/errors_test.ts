import assert from "node:assert/strict";
import { Hono } from "hono";
import { redactPaths, renderError } from "./errors.ts";
import { TrackingError } from "../tracking/mod.ts";

Deno.test("redactPaths: absolute server paths and file: URIs become <path>; routes and relative paths stay", () => {
  const cases: [string, string][] = [
    [
      "Cannot read metric 'loss' from /tmp/x/mlruns/0/r/metrics/loss: line 3",
      "Cannot read metric 'loss' from <path>: line 3",
    ],
    ["No such file (os error 2): open '/etc/shadow'", "No such file (os error 2): open '<path>'"],
    ["Cannot serve 'file:///home/u/art' here", "Cannot serve '<path>' here"],
    ["Invalid path '0//tmp/x/canary.txt': no", "Invalid path '0/<path>': no"],
    ["(see /var/log/x)", "(see <path>)"],
    [
      "hint: GET /api/storyteller/changes?experiment_ids=0,1",
      "hint: GET /api/storyteller/changes?experiment_ids=0,1",
    ],
    ["runs/tmp/x and mlflow-artifacts:/1/abc", "runs/tmp/x and mlflow-artifacts:/1/abc"],
  ];
  for (const [message, want] of cases) assert.equal(redactPaths(message), want);
});

Deno.test("renderError: a store the server cannot write answers a clean 500 and logs one line", async () => {
  const app = new Hono();
  app.onError(renderError);
  const failures: [string, Error, RegExp][] = [
    [
      "/ro",
      new Error("Read-only file system (os error 30): open '/srv/mlruns/0/meta.yaml'"),
      /read-only \(EROFS\)/,
    ],
    ["/full", new Error("No space left on device (os error 28): write '/srv/mlruns/x'"), /no space left/],
    ["/denied", new Deno.errors.PermissionDenied("Permission denied (os error 13): '/srv'"), /may not write/],
  ];
  for (const [path, err] of failures) app.get(path, () => Promise.reject(err));
  const logged: string[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => logged.push(a.join(" "));
  try {
    for (const [path, , re] of failures) {
      const res = await app.request(path);
      const body = await res.json();
      assert.equal(res.status, 500);
      assert.equal(body.error_code, "INTERNAL_ERROR");
      assert.match(body.message, re);
      assert.ok(!body.message.includes("/srv"), body.message);
    }
  } finally {
    console.error = error;
  }
  assert.equal(logged.length, 3);
  assert.ok(
    logged.every((l) => !l.includes("\n") && l.startsWith("storyteller server: cannot change the store")),
  );
});

Deno.test("renderError: no answer carries an absolute path, whatever the error", async () => {
  const app = new Hono();
  app.onError(renderError);
  app.get("/typed", () => {
    throw new TrackingError("INTERNAL_ERROR", "Cannot read /tmp/store/0/meta.yaml", {
      hint: "look at /tmp/store",
    });
  });
  app.get("/raw", (c) => c.text(Deno.readTextFileSync("/nonexistent-dir/secret")));
  app.get("/json", (c) => c.json(JSON.parse("root:x:0:0:root:/root:/bin/bash")));
  const cases: [string, RegExp][] = [
    ["/typed", /<path>.*hint: look at <path>/],
    ["/raw", /unexpected NotFound/],
    ["/json", /unexpected SyntaxError/],
  ];
  const error = console.error;
  console.error = () => {}; // the unexpected errors are logged on purpose
  try {
    for (const [url, re] of cases) {
      const res = await app.request(url);
      const body = await res.json();
      assert.equal(res.status, 500);
      assert.match(body.message, re);
      assert.ok(!/\/(tmp|nonexistent-dir)\b|root:x/.test(body.message), body.message);
    }
  } finally {
    console.error = error;
  }
});
