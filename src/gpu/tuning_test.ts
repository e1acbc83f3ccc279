import assert from "node:assert/strict";
import { join } from "node:path";
import { tuningCachePath, type TuningRequest, TuningTable } from "./tuning.ts";

const spec = { M: 3 };

Deno.test("an untuned shape runs the first candidate and is queued once; a tuned one runs its winner", () => {
  const t = new TuningTable();
  assert.equal(t.choice("matmul", "s1", ["a", "b"], spec), "a");
  assert.equal(t.choice("matmul", "s1", ["a", "b"], spec), "a");
  assert.equal(t.choice("matmul", "s2", ["a"], spec), "a", "a single candidate needs no tuning");
  assert.equal(t.choice("matmul", "s3", ["a", "b"], spec, false), "a", "tune=false only reads");
  assert.deepEqual(t.pending.map((r) => r.shape), ["s1"]);
  t.set("matmul", "s1", { variant: "b", times: { a: 2, b: 1 } });
  assert.deepEqual(t.pending, []);
  assert.equal(t.choice("matmul", "s1", ["a", "b"], spec), "b");
  assert.deepEqual(
    t.used,
    [["matmul/s1", "b"], ["matmul/s2", "a"], ["matmul/s3", "a"]],
    "what each shape last ran",
  );
  // A cached winner that is no longer a candidate (another adapter's limits, a renamed variant) is not run.
  assert.equal(t.choice("matmul", "s1", ["a", "c"], spec), "a");
  // A candidate added since the shape was timed sends it back to the tuner (the old winner may no longer win).
  assert.equal(t.choice("matmul", "s1", ["a", "b", "d"], spec), "a");
  assert.deepEqual((t.pending as TuningRequest[]).map((r) => [r.shape, r.candidates]), [["s1", ["a", "c"]]]);
});

Deno.test("the cache keeps each adapter's section; a corrupt cache is ignored with a warning", () => {
  const dir = Deno.makeTempDirSync({ prefix: "st-tune-" });
  const path = join(dir, "sub", "tuning.json");
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const one = new TuningTable();
  one.attach({ path, adapterKey: "gpu one" }, warn);
  assert.deepEqual(warnings, [], "a missing cache is an empty one");
  one.set("matmul", "s", { variant: "b", times: { a: 2, b: 1 } });
  one.save(warn);
  const two = new TuningTable();
  two.attach({ path, adapterKey: "gpu two" }, warn);
  two.set("matmul", "s", { variant: "a", times: { a: 1, b: 2 } });
  two.save(warn);
  const again = new TuningTable();
  again.attach({ path, adapterKey: "gpu one" }, warn);
  assert.equal(again.choice("matmul", "s", ["a", "b"], spec), "b");
  const other = new TuningTable();
  other.attach({ path, adapterKey: "gpu two" }, warn);
  assert.equal(other.choice("matmul", "s", ["a", "b"], spec), "a");
  assert.deepEqual(warnings, []);

  Deno.writeTextFileSync(path, "{ not json");
  const corrupt = new TuningTable();
  corrupt.attach({ path, adapterKey: "gpu one" }, warn);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /ignoring the kernel tuning cache .*tuning\.json: it is not a storyteller tuning file/,
  );
  assert.equal(corrupt.choice("matmul", "s", ["a", "b"], spec), "a");
  corrupt.set("matmul", "s", { variant: "b", times: {} });
  corrupt.save(warn);
  assert.equal(JSON.parse(Deno.readTextFileSync(path)).adapters["gpu one"]["matmul/s"].variant, "b");

  // Entries of the wrong shape inside a valid file are skipped, not trusted.
  Deno.writeTextFileSync(
    path,
    JSON.stringify({ version: 1, adapters: { "gpu one": { "matmul/s": { variant: 7 }, "matmul/t": "b" } } }),
  );
  const odd = new TuningTable();
  odd.attach({ path, adapterKey: "gpu one" }, warn);
  assert.deepEqual(odd.entries, []);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("tuningCachePath: STORYTELLER_TUNING_CACHE wins, 'off' disables, else the platform cache dir", () => {
  const saved = Deno.env.get("STORYTELLER_TUNING_CACHE");
  const savedXdg = Deno.env.get("XDG_CACHE_HOME");
  try {
    Deno.env.set("STORYTELLER_TUNING_CACHE", "/x/t.json");
    assert.equal(tuningCachePath(), "/x/t.json");
    Deno.env.set("STORYTELLER_TUNING_CACHE", "off");
    assert.equal(tuningCachePath(), null);
    Deno.env.delete("STORYTELLER_TUNING_CACHE");
    if (Deno.build.os === "linux") {
      Deno.env.set("XDG_CACHE_HOME", "/c");
      assert.equal(tuningCachePath(), "/c/storyteller/tuning.json");
    }
  } finally {
    if (saved === undefined) Deno.env.delete("STORYTELLER_TUNING_CACHE");
    else Deno.env.set("STORYTELLER_TUNING_CACHE", saved);
    if (savedXdg === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", savedXdg);
  }
});
