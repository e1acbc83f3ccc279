/**
 * The path-traversal corpus: the request shapes of MLflow's advisories (CVE-2023-1177, -2356, -2780, -6018, -6831,
 * -6909, -6977, CVE-2024-1483, -1558, -1560, -1593, -2928 and kin) against the path checks, the artifact proxy,
 * the UI downloads and model-version sources. Every one must be refused and nothing outside the roots touched.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkedSegments, decodeUrlPath, resolveUnder } from "./paths.ts";
import { createServerApp } from "./mod.ts";
import { TrackingError } from "../tracking/mod.ts";

/** Raw URL path tails (as they appear on the wire after `/mlflow-artifacts/artifacts/`). */
const URL_CORPUS = [
  "..%2f..%2fetc%2fpasswd", // encoded slash (CVE-2023-6909 shape)
  "%2e%2e/%2e%2e/etc/passwd", // encoded dots
  "%252e%252e/%252e%252e/etc/passwd", // double-encoded dots (CVE-2024-1560)
  "%252e%252e%252f%252e%252e%252fetc%252fpasswd", // double-encoded dots and slashes
  "..%5c..%5cetc%5cpasswd", // encoded backslash (CVE-2023-2780)
  "a/..%5c..%5c..%5cetc/passwd",
  "%2fetc%2fpasswd", // encoded absolute
  "a%00.txt", // NUL
  "a/%0a/b", // control char
  "..;/..;/etc/passwd", // semicolon path parameter (CVE-2024-1593)
  "a;/../../etc/passwd",
  "x%23/../../etc/passwd", // '#' smuggling (CVE-2024-1483)
  "x%3F/../../etc", // '?' smuggling
  "C:%5cWindows%5cwin.ini", // drive letter
  "c:../secret", // drive-relative (MLflow #10330)
  "a//b", // empty segment
  "./a",
  "%2e/a",
  "%c0%ae%c0%ae/etc/passwd", // overlong UTF-8 dots: malformed → refused
  "%E0%80%AE%E0%80%AE/x",
  "~/.ssh/id_rsa",
  "%7e/.ssh/id_rsa",
];

/** Decoded paths as they arrive in query strings (`?path=`) and JSON. */
const DECODED_CORPUS = [
  "../../etc/passwd",
  "a/../../b",
  "/etc/passwd",
  "//etc/passwd",
  "..",
  ".",
  "a/..",
  "..\\..\\etc\\passwd",
  "\\..\\..\\etc\\passwd",
  "a\x00b",
  "a#/../../b",
  "a?/../../b",
  "..;/etc",
  "%2e%2e/etc",
  "%252e%252e/etc",
  "C:\\Windows",
  "file:///etc/passwd".replace("file:", "C:"),
];

function assertRefused(fn: () => unknown, what: string) {
  assert.throws(fn, (e: unknown) => e instanceof TrackingError && e.code === "INVALID_PARAMETER_VALUE", what);
}

Deno.test("path checks refuse every traversal pattern and keep ordinary names", () => {
  for (const p of URL_CORPUS) assertRefused(() => decodeUrlPath(p), p);
  for (const p of DECODED_CORPUS) assertRefused(() => checkedSegments(p), JSON.stringify(p));
  assert.deepEqual(decodeUrlPath("model/MLmodel"), ["model", "MLmodel"]);
  assert.deepEqual(decodeUrlPath("a%20b/c%2Bd.txt"), ["a b", "c+d.txt"]);
  assert.deepEqual(checkedSegments("dir/ünï code.txt"), ["dir", "ünï code.txt"]);
  assert.deepEqual(checkedSegments("..hidden/x..y"), ["..hidden", "x..y"]);
  assert.deepEqual(checkedSegments(""), []);
});

Deno.test("resolveUnder refuses symlinks that leave the root, for reads and writes", () => {
  const dir = Deno.makeTempDirSync({ prefix: "st-paths-" });
  try {
    const root = join(dir, "root");
    const outside = join(dir, "outside");
    Deno.mkdirSync(root);
    Deno.mkdirSync(outside);
    Deno.writeTextFileSync(join(outside, "secret.txt"), "secret");
    Deno.symlinkSync(outside, join(root, "link"));
    Deno.symlinkSync(join(outside, "secret.txt"), join(root, "file-link"));
    Deno.mkdirSync(join(root, "inner"));
    Deno.symlinkSync(join(root, "inner"), join(root, "ok-link"));
    assertRefused(() => resolveUnder(root, ["link", "secret.txt"]), "dir symlink read");
    assertRefused(() => resolveUnder(root, ["link", "new", "file.txt"], true), "dir symlink write");
    assertRefused(() => resolveUnder(root, ["file-link"]), "file symlink read");
    assertRefused(() => resolveUnder(root, ["ok-link"], true), "write onto a symlink");
    assert.ok(resolveUnder(root, ["ok-link", "x.txt"]).endsWith("/ok-link/x.txt"));
    assert.ok(resolveUnder(root, ["a", "b.txt"], true).endsWith("/root/a/b.txt"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

async function fixture() {
  const dir = await Deno.makeTempDir({ prefix: "st-trav-" });
  const secret = join(dir, "secret.txt");
  await Deno.writeTextFile(secret, "top secret");
  const app = createServerApp({
    backendStoreUri: join(dir, "mlruns"),
    artifactsDestination: join(dir, "art"),
  });
  const json = (path: string, body: unknown, method = "POST") =>
    app.request(path, {
      method,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  return { dir, secret, app, json };
}

Deno.test("artifact proxy refuses the traversal corpus for PUT, GET, DELETE and list", async () => {
  const { dir, secret, app } = await fixture();
  try {
    // Something inside the root, so a traversal that "worked" would have a target.
    await app.request("/api/2.0/mlflow-artifacts/artifacts/a/b/c.txt", { method: "PUT", body: "x" });
    for (const tail of URL_CORPUS) {
      if (/^(~|%7e)/i.test(tail)) continue; // only a leading '~' means anything; under a/b/ it is a plain name
      const url = `http://localhost/api/2.0/mlflow-artifacts/artifacts/a/b/${tail}`;
      // WHATWG URL parsing folds `%2e%2e` segments before any handler runs (Deno.serve does the same), so
      // such a request names a path inside the root, or another route; everything else must be refused.
      const folded = new URL(url).pathname !== `/api/2.0/mlflow-artifacts/artifacts/a/b/${tail}`;
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await app.request(url, { method, body: method === "PUT" ? "pwned" : undefined });
        const text = await res.text();
        if (!folded) {
          assert.ok(res.status === 400 || res.status === 404, `${method} ${tail}: ${res.status} ${text}`);
        }
        assert.ok(!text.includes("top secret"), `${method} ${tail} leaked`);
      }
    }
    for (const p of DECODED_CORPUS) {
      const res = await app.request(`/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(p)}`);
      assert.equal(res.status, 400, `list ${JSON.stringify(p)}`);
      await res.body?.cancel();
    }
    assert.equal(await Deno.readTextFile(secret), "top secret");
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["art", "mlruns", "secret.txt"]);
    // The unescaped form never reaches the handler with its dots: URL parsing folds them first.
    const res = await app.request("/api/2.0/mlflow-artifacts/artifacts/../../../secret.txt");
    assert.notEqual(res.status, 200);
    await res.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model-version sources outside the roots are refused (CVE-2023-1177, -2780, -6977, 2024-1483)", async () => {
  const { dir, app, json } = await fixture();
  try {
    await json("/api/2.0/mlflow/registered-models/create", { name: "m" });
    const run = (await (await json("/api/2.0/mlflow/runs/create", { experiment_id: "0" })).json()).run;
    const runId = run.info.run_id;
    const bad = [
      "/etc",
      "file:///etc/",
      "file:///etc/passwd",
      "file://remote-host/etc",
      `file://${dir}/secret.txt`,
      `${dir}/mlruns/../secret.txt`,
      `file://${dir}/mlruns/0/%2e%2e/%2e%2e/secret.txt`,
      `file://${dir}/mlruns/0/..%2f..%2fsecret.txt`,
      "file:///tmp\\..\\..\\etc\\passwd",
      "C:\\..\\..\\etc\\passwd",
      `file://${dir}/mlruns#/../../../etc`,
      `file://${dir}/mlruns?/../../../etc`,
      "mlflow-artifacts:/../../etc",
      "mlflow-artifacts:/%2e%2e/%2e%2e/etc",
      "runs:/" + runId + "/../../../../etc",
      "http://host/a/../../etc",
      "s3://bucket/a/../b",
      "models:/m/1/../../x",
      "./relative/path",
    ];
    for (const source of bad) {
      const res = await json("/api/2.0/mlflow/model-versions/create", { name: "m", source, run_id: runId });
      const body = await res.json();
      assert.equal(res.status, 400, `${source}: ${JSON.stringify(body)}`);
      assert.equal(body.error_code, "INVALID_PARAMETER_VALUE");
    }
    const list = await (await app.request("/api/2.0/mlflow/model-versions/search?filter=name%3D'm'")).json();
    assert.equal(list.model_versions, undefined, "no version was registered");
    for (
      const source of [
        `runs:/${runId}/model`,
        `mlflow-artifacts:/0/${runId}/artifacts/model`,
        `${dir}/mlruns/0/${runId}/artifacts/model`,
        "s3://bucket/models/m",
      ]
    ) {
      const res = await json("/api/2.0/mlflow/model-versions/create", { name: "m", source, run_id: runId });
      assert.equal(res.status, 200, `${source}: ${await res.text()}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a run whose artifact location points outside the roots is never served (CVE-2024-1483 shape)", async () => {
  const { dir, app, json } = await fixture();
  try {
    const exp = await (await json("/api/2.0/mlflow/experiments/create", {
      name: "evil",
      artifact_location: `file://${dir}`,
    })).json();
    const run =
      (await (await json("/api/2.0/mlflow/runs/create", { experiment_id: exp.experiment_id })).json()).run;
    const hash = await json("/api/2.0/mlflow/experiments/create", {
      name: "poc",
      artifact_location: "http:///#/../../../../../../etc/",
    });
    assert.equal(hash.status, 400);
    await hash.body?.cancel();
    const get = await app.request(`/get-artifact?run_id=${run.info.run_id}&path=secret.txt`);
    const body = await get.text();
    assert.equal(get.status, 403, body);
    assert.ok(!body.includes("top secret"));
    const list = await app.request(`/api/2.0/mlflow/artifacts/list?run_id=${run.info.run_id}`);
    assert.equal(list.status, 403);
    await list.body?.cancel();
    for (const path of ["../../secret.txt", "/etc/passwd", "..%2f..%2fsecret.txt", "a\\..\\..\\secret.txt"]) {
      const r = await app.request(`/get-artifact?run_id=${run.info.run_id}&path=${encodeURIComponent(path)}`);
      assert.notEqual(r.status, 200, path);
      await r.body?.cancel();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
