/**
 * The layering rule of ARCHITECTURE.md over the import graph: every relative import (static, dynamic, `export …
 * from`, type-only included) in src/, ui/ and tools/ must point down the layer order, or be listed in EXCEPTIONS
 * with its reason. Tests and test helpers (`*_test.ts`, `testing.ts`) may import anything.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

/**
 * Layers, lowest first; a file may import its own area and any area of a lower layer. `src/*.ts` (errors, log,
 * version, the YAML readers) are leaves. src/reference is the test oracle: see ORACLE_MAY_IMPORT.
 */
const LAYERS: string[][] = [
  ["src/(leaf)", "configs"],
  ["src/config", "src/tracking"],
  ["src/gpu", "src/data"],
  ["src/kernels"],
  ["src/model"],
  ["src/serve"],
  ["src/export", "src/train"],
  ["src/server"],
  ["src/cli"],
  ["main.ts", "tools"],
];

/** What the oracle may share with production code: declarations only, never an implementation. */
const ORACLE_MAY_IMPORT = ["src/kernels/contracts.ts", "src/model/layout.ts", "src/config/mod.ts"];

/** The browser bundle runs without Deno: it may import only these pure modules of src/. */
const UI_MAY_IMPORT = [/^src\/tracking\/types\.ts$/, /^src\/tracking\/search\/[\w]+\.ts$/];

/** Known imports against the rule: `from -> to` (repository paths) and why each stays for now. */
const EXCEPTIONS: Record<string, string> = {
  "src/gpu/selftest.ts -> src/kernels/matmul.ts":
    "the `storyteller gpu` self-test belongs in src/kernels/; moving it touches src/cli/gpu.ts (issue 20, #3)",
  "src/gpu/selftest.ts -> src/reference/matmul.ts":
    "the self-test checks the GPU matmul against the CPU matmul at run time, on the user's adapter",
  "src/model/mlmodel.ts -> src/export/pyfunc/pyfunc.ts":
    "the MLmodel writer embeds the python_function flavor; the pyfunc sources should move below src/model",
  "src/serve/app.ts -> src/server/mod.ts":
    "the inference API reuses the server's guard and MLflow-shaped errors; they belong in a lower shared module",
  "src/train/tracking_bench.ts -> src/server/mod.ts":
    "benchmark code in src/; moves to tools/ (issue 20, #5)",
  "src/server/ui.ts -> ui/dist/app.js":
    "the server embeds the built UI bundle; the bundle imports nothing back",
  "tools/killloop.ts -> tests/_small.ts": "the kill-loop tool reuses the tests' small training config",
};

function area(path: string): string {
  const parts = path.split("/");
  if (parts[0] !== "src") return parts[0];
  return parts.length === 2 ? "src/(leaf)" : `src/${parts[1]}`;
}

function layer(a: string): number {
  return LAYERS.findIndex((l) => l.includes(a));
}

function isTest(path: string): boolean {
  return /_test\.tsx?$/.test(path) || /(^|\/)testing\.ts$/.test(path);
}

function* sources(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory && !["dist", "node_modules", "testdata"].includes(e.name)) yield* sources(path);
    else if (e.isFile && /\.tsx?$/.test(e.name)) yield path;
  }
}

const IMPORT =
  /(?:\bimport|\bexport)\s[^;]*?\bfrom\s*"(\.{1,2}\/[^"]+)"|\bimport\s*\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g;

/** Every relative import of every non-test file in src/, ui/, tools/ and main.ts, as repository paths. */
function imports(): [from: string, to: string][] {
  const out: [string, string][] = [];
  for (const file of [...["src", "ui", "tools"].flatMap((d) => [...sources(d)]), "main.ts"]) {
    if (isTest(file)) continue;
    const code = Deno.readTextFileSync(new URL(file, ROOT));
    for (const m of code.matchAll(IMPORT)) {
      out.push([file, new URL(m[1] ?? m[2], new URL(file, ROOT)).href.slice(ROOT.href.length)]);
    }
  }
  return out;
}

/** Why `from` may not import `to`, or undefined when the rule allows it. */
function violation(from: string, to: string): string | undefined {
  const [a, b] = [area(from), area(to)];
  if (!/\.(tsx?|js)$/.test(to)) return; // assets (WGSL, YAML, JSON, CSS) carry no imports back
  if (a === b) return;
  if (b === "src/reference") return "production code imports the test oracle";
  if (a === "src/reference") {
    return ORACLE_MAY_IMPORT.includes(to) ? undefined : "the oracle imports production code";
  }
  if (a === "ui") {
    return UI_MAY_IMPORT.some((r) => r.test(to)) ? undefined : "the UI bundle imports a Deno module";
  }
  if (b === "kernels" && from.startsWith("src/kernels/")) return;
  const [la, lb] = [layer(a), layer(b)];
  if (la < 0 || lb < 0) return `${la < 0 ? a : b} has no layer in ARCHITECTURE.md`;
  return lb < la ? undefined : `${a} (layer ${la}) imports ${b} (layer ${lb})`;
}

Deno.test("layering: every import points down the layers of ARCHITECTURE.md, or is a listed exception", () => {
  const bad = imports()
    .map(([from, to]) => ({ key: `${from} -> ${to}`, why: violation(from, to) }))
    .filter((i) => i.why && !(i.key in EXCEPTIONS))
    .map((i) => `${i.key}: ${i.why}`);
  assert.deepEqual(
    bad,
    [],
    `imports against the layering rule (fix them, or list them with a reason):\n${bad.join("\n")}`,
  );
});

Deno.test("layering: every listed exception still exists and still breaks the rule", () => {
  const seen = new Map(imports().map(([from, to]) => [`${from} -> ${to}`, violation(from, to)]));
  const stale = Object.keys(EXCEPTIONS).filter((k) => !seen.get(k));
  assert.deepEqual(stale, [], `exceptions no longer needed (drop them):\n${stale.join("\n")}`);
});

Deno.test("layering: the rule's own checks catch what they should", () => {
  assert.match(violation("src/gpu/batch.ts", "src/cli/output.ts")!, /layer 2\) imports src\/cli/);
  assert.match(violation("src/kernels/amp.ts", "src/reference/amp.ts")!, /test oracle/);
  assert.match(violation("src/reference/amp.ts", "src/kernels/amp.ts")!, /oracle imports production/);
  assert.equal(violation("src/reference/amp.ts", "src/kernels/contracts.ts"), undefined);
  assert.match(violation("src/server/ui_series.ts", "ui/lib/downsample.ts")!, /imports ui|has no layer/);
  assert.equal(violation("src/model/engine.ts", "src/kernels/matmul.ts"), undefined);
  assert.equal(violation("src/kernels/rope.ts", "kernels/rope.wgsl"), undefined);
});
