/**
 * The compile task runs what it built: a binary that is not storyteller (a full deno given as DENORT_BIN makes one
 * that runs as plain deno) fails with what it printed and the offline command of the README as the hint.
 */
import assert from "node:assert/strict";
import { CompileError, verifyBinary } from "../tools/compile.ts";

const sh = Deno.build.os === "windows" ? undefined : "/bin/sh";

/** An executable script in `dir` that prints `stdout` for `--version` and `configs` for `configs list`. */
async function fakeBinary(dir: string, version: string, configs: string): Promise<string> {
  const path = `${dir}/storyteller-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(
    path,
    `#!${sh}\nif [ "$1" = "--version" ]; then printf '%s\\n' '${version}'; else printf '%s\\n' '${configs}'; fi\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test({
  name: "compile: the built binary must answer --version and configs list as storyteller" +
    (sh ? "" : " (ignored: the stand-in binaries are shell scripts, which Windows cannot run)"),
  ignore: !sh,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "st-verify-" });
    try {
      // Deno itself (what a full deno as DENORT_BIN produces): refused, saying so.
      await assert.rejects(verifyBinary(Deno.execPath()), (err: unknown) => {
        assert.ok(err instanceof CompileError);
        assert.match(
          err.message,
          /is not storyteller — '.*--version' printed "deno \d+\.\d+\.\d+.*that is Deno itself/,
        );
        assert.match(
          err.hint ?? "",
          /DENORT_BIN must be denort.*not a full deno; then run DENORT_BIN=\/path\/to\/denort npx -y deno@\d+\.\d+\.\d+ task compile/,
        );
        return true;
      });
      // A binary that prints nothing, and one whose configs are missing.
      await assert.rejects(verifyBinary(await fakeBinary(dir, "", "")), /--version. printed nothing$/);
      await assert.rejects(
        verifyBinary(await fakeBinary(dir, "storyteller 0.1.0", 'error: Module not found "file:///main.ts"')),
        /'.*configs list' failed or lacks the embedded configs: "error: Module not found/,
      );
      await assert.rejects(verifyBinary(`${dir}/missing`), CompileError);
      // storyteller as it should be.
      await verifyBinary(await fakeBinary(dir, "storyteller 0.1.0", "tiny       140k params"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
