/** PyYAML-compatible reading: scalars resolve as PyYAML's YAML 1.1 resolvers do, not as the generic 1.1 schema. */
import assert from "node:assert/strict";
import { parsePyYaml } from "./yaml.ts";

Deno.test("parsePyYaml resolves floats, ints and dates like PyYAML; a dotless exponent stays a string", () => {
  // A nested value forces the full parser (the flat fast path handles plain key: value files itself).
  const doc = parsePyYaml(
    "digest: 90307e28\nf: 1.5\ne: 1.0e+16\nx: 1e3\nneg: -.inf\nnan: .NaN\nsexa: 190:20:30.15\nu: 1_000.5\n" +
      "oct: 012\nhex: 0x1f\ndate: 2024-01-01\ny: y\nn: N\nb1: Yes\nb2: OFF\nnested:\n  k: v\n",
  ) as Record<string, unknown>;
  assert.equal(doc.digest, "90307e28");
  assert.equal(doc.f, 1.5);
  assert.equal(doc.e, 1e16);
  assert.equal(doc.x, "1e3");
  assert.equal(doc.neg, -Infinity);
  assert.ok(Number.isNaN(doc.nan));
  assert.ok(Math.abs((doc.sexa as number) - 685230.15) < 1e-9);
  assert.equal(doc.u, 1000.5);
  assert.equal(doc.oct, 10);
  assert.equal(doc.hex, 31);
  assert.ok(doc.date instanceof Date);
  assert.deepEqual([doc.y, doc.n, doc.b1, doc.b2], ["y", "N", true, false]);
  // The flat fast path agrees.
  assert.deepEqual(parsePyYaml("digest: 90307e28\nname: x\n"), { digest: "90307e28", name: "x" });
});
