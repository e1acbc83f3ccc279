import assert from "node:assert/strict";
import { TrackingError } from "./errors.ts";
import { parseMetricLines } from "./meta.ts";
import { exactInt, validateMetric, validateModelName, validatePathSegment } from "./validation.ts";

const invalid = (f: () => unknown, re: RegExp) =>
  assert.throws(
    f,
    (e) => e instanceof TrackingError && e.code === "INVALID_PARAMETER_VALUE" && re.test(e.message),
  );

Deno.test("int64 fields are exact within ±(2^53 - 1) and refused beyond, never rounded", () => {
  const max = Number.MAX_SAFE_INTEGER;
  assert.equal(exactInt("step", max), max);
  assert.equal(exactInt("step", -max), -max);
  assert.equal(exactInt("step", "9007199254740991"), max);
  assert.equal(exactInt("step", " -12 "), -12);
  for (const v of [2 ** 53, 2 ** 63, -(2 ** 53), "9007199254740993", "9223372036854775807"]) {
    invalid(() => exactInt("step", v), /kept exactly only within ±9007199254740991/);
  }
  for (const v of [1.5, "1.5", "1e3", "0x10", true, null, "abc"]) {
    invalid(() => exactInt("step", v), /expected an integer/);
  }
  const m = { key: "loss", value: 1, timestamp: 0, step: 0 };
  validateMetric({ ...m, timestamp: max, step: -max });
  invalid(() => validateMetric({ ...m, step: 2 ** 63 }), /Step must be a valid long.*2\^53 - 1/);
  invalid(() => validateMetric({ ...m, timestamp: 2 ** 53 }), /Timestamp must be.*2\^53 - 1/);
  invalid(() => validateMetric({ ...m, timestamp: -1 }), /nonnegative/);
});

Deno.test("metric files: every complete line is a point or an error; big or torn numbers are never rounded", () => {
  const parse = (text: string) => parseMetricLines("loss", text, "metrics/loss");
  assert.deepEqual(
    parse("5 1.5 9007199254740991\n6 nan -3\n7 2\n\n8 1 2 ds abc\n").map((m) => [m.timestamp, m.step]),
    [
      [5, 9007199254740991],
      [6, -3],
      [7, 0],
      [8, 2],
    ],
  );
  assert.deepEqual(parse("5 1 1\n10001000"), parse("5 1 1\n"), "a torn last line is not a point yet");
  for (
    const bad of [
      "5 1 9223372036854775807",
      "10001000000000192 1 1",
      "5 x 1",
      "5.5 1 1",
      "5 1 1e3",
      "77",
      "a b c d",
    ]
  ) {
    assert.throws(
      () => parse(`1 1 1\n${bad}\n`),
      (e) =>
        e instanceof TrackingError && e.code === "INTERNAL_ERROR" && /line 2 is malformed/.test(e.message) &&
        !e.message.includes(bad),
      bad,
    );
  }
});

Deno.test("validatePathSegment: one safe file name, or INVALID_PARAMETER_VALUE", () => {
  for (const ok of ["brave-owl-7", "run 1", "a.b", "..a", "ünï"]) validatePathSegment("run name", ok);
  for (const bad of ["", ".", "..", "a/b", "../x", "a\\b", "/abs", "a\0b", "a\nb", "x".repeat(256), 7]) {
    invalid(() => validatePathSegment("run name", bad), /as a run name: it/);
  }
});

Deno.test("validateModelName: a name longer than a directory name is refused with 400, not a 500 from mkdir", () => {
  validateModelName("m".repeat(255));
  assert.throws(() => validateModelName("m".repeat(256)), /256 bytes long: at most 255/);
  assert.throws(() => validateModelName("é".repeat(128)), /256 bytes long/);
});
