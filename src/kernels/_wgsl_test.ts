// compose: parts joined in order, global directives hoisted once, everything else (attributes too) as written.
import assert from "node:assert/strict";
import { compose } from "./_wgsl.ts";

Deno.test("compose joins the parts in order, unchanged", () => {
  const a = "// a\nconst X: u32 = 1u;\n";
  const b = "override Y: bool = false;\nfn f() -> u32 { return X; }";
  assert.equal(compose(a, b), `${a}\n${b}`);
});

Deno.test("compose moves global directives to the front, each once", () => {
  const front = "// the f16 front\nenable f16;\n@group(0) @binding(0) var<storage, read> A: array<f16>;";
  const core = "enable f16; // the core needs it too\n  diagnostic(off, derivative_uniformity);\nfn g() {}";
  const code = compose(front, core);
  const lines = code.split("\n");
  assert.deepEqual(lines.slice(0, 2), ["enable f16;", "diagnostic(off, derivative_uniformity);"]);
  assert.equal(lines.filter((l) => l.includes("enable f16")).length, 1);
  assert.ok(code.includes("// the f16 front\n@group(0) @binding(0)"));
  assert.ok(code.endsWith("fn g() {}"));
});

Deno.test("compose leaves attributes and names that merely start like directives", () => {
  const part =
    "@diagnostic(off, derivative_uniformity) fn h() {}\nconst enabled = 1u;\n// enable f16; in prose";
  assert.equal(compose(part), part);
});
