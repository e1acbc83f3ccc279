/**
 * The compile task: with a stand-in denort (any ELF on Linux) `deno compile` runs through the embedding step, so the
 * test sees exactly what a release binary would carry; the hint paths are checked without a network.
 */
import assert from "node:assert/strict";
import { compile, CompileError, explainDenortFailure } from "../tools/compile.ts";

const standIn = Deno.build.os === "linux" ? "/bin/true" : undefined;

Deno.test({
  name: "compile embeds kernels, configs and sources, and no dev-only npm package" +
    (standIn ? "" : " (ignored: the stand-in denort is /bin/true, Linux only)"),
  ignore: !standIn,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "st-compile-" });
    try {
      const [r] = await compile({ targets: [], outDir: dir, noCheck: true, denortBin: standIn });
      assert.equal(r.output, `${dir}/storyteller`);
      assert.ok(r.bytes > 1_000_000, `binary of ${r.bytes} bytes`);
      for (
        const part of [
          "kernels/",
          "configs/",
          "main.ts",
          "src",
          "ui",
          "dist/",
          "commander/",
          "yaml/",
          "hono/",
        ]
      ) {
        assert.ok(r.embedded.includes(part), `embedded report lacks ${part}:\n${r.embedded}`);
      }
      assert.doesNotMatch(r.embedded, /tokenizers\/|playwright-core\//);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compile refuses a DENORT_BIN that is missing, or used for another target, with a hint", async () => {
  await assert.rejects(
    compile({ targets: [], outDir: "/nonexistent", denortBin: "/no/such/denort" }),
    (err: unknown) =>
      err instanceof CompileError && /DENORT_BIN=\/no\/such\/denort is not a file/.test(err.message) &&
      /DENORT_BIN=\/path\/to\/denort/.test(err.hint ?? ""),
  );
  if (standIn) {
    await assert.rejects(
      compile({ targets: ["aarch64-apple-darwin"], outDir: "/nonexistent", denortBin: standIn }),
      /one denort serves one target/,
    );
  }
});

Deno.test("a failed denort download is recognised; other compile failures are not", () => {
  assert.match(
    explainDenortFailure(
      "error: Writing binary\n  0: error sending request for url (https://dl.deno.land/…)",
    ) ?? "",
    /could not be downloaded/,
  );
  assert.equal(explainDenortFailure('error: Module not found "file:///x/main.ts"'), undefined);
});
