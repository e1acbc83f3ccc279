import assert from "node:assert/strict";
import { FixableError } from "../errors.ts";
import { lockRunDir } from "./run_lock.ts";

Deno.test("a run directory is locked once: a second lock fails naming the holder until the first is released", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await lockRunDir(`${dir}/ckpt/r`, "r");
    assert.equal(first.path, `${dir}/ckpt/r/.lock`);
    await assert.rejects(lockRunDir(`${dir}/ckpt/r`, "r"), (err: Error) => {
      assert.ok(err instanceof FixableError);
      assert.equal(
        err.message,
        `Cannot train run 'r': another training of it (process ${Deno.pid}) holds ${dir}/ckpt/r/.lock`,
      );
      assert.match(err.hint, /wait for it to finish/);
      return true;
    });
    // The failed try closed its own handle only: the first lock still holds.
    await assert.rejects(lockRunDir(`${dir}/ckpt/r`, "r"), FixableError);
    // Another run's directory is not affected.
    (await lockRunDir(`${dir}/ckpt/other`, "other")).release();
    first.release();
    (await lockRunDir(`${dir}/ckpt/r`, "r")).release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock held by another process stops this one, and is free again once that process is killed", async () => {
  const dir = await Deno.makeTempDir();
  const module = new URL("./run_lock.ts", import.meta.url).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { lockRunDir } from ${JSON.stringify(module)};
       await lockRunDir(${JSON.stringify(`${dir}/r`)}, "r");
       console.log("locked");
       setInterval(() => {}, 60_000);`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await lines.read()).value?.trim(), "locked");
    await assert.rejects(
      lockRunDir(`${dir}/r`, "r"),
      new RegExp(`another training of it \\(process ${child.pid}\\) holds`),
    );
    // SIGKILL: no cleanup code runs, the OS alone drops the lock.
    child.kill("SIGKILL");
    await child.status;
    await lines.cancel();
    (await lockRunDir(`${dir}/r`, "r")).release();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
