/**
 * The program reads nothing from the source tree at run time: each main command runs from an empty temporary
 * directory with reads and writes limited to that directory, so a hidden read of the repository (a kernel, a config,
 * the UI bundle) fails here the way it would fail in a compiled binary.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs storyteller with file access limited to `dir` (plus `extra` permission flags). */
function sandboxed(dir: string, args: string[], extra: string[] = []): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "--allow-env",
      ...extra,
      MAIN,
      ...args,
    ],
    cwd: dir,
    // Temp files (the tracker's staging area) go inside the sandbox too.
    env: { NO_COLOR: "1", XDG_RUNTIME_DIR: dir, TMPDIR: dir, MLFLOW_TRACKING_URI: "" },
    stdout: "piped",
    stderr: "piped",
  });
}

async function output(cmd: Deno.Command) {
  const out = await cmd.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function inEmptyDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "st-sandbox-" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("train on the built-in corpus runs from an empty directory with file access limited to it", async () => {
  await inEmptyDir(async (dir) => {
    const r = await output(sandboxed(dir, [
      "train",
      "--set",
      "training.max_steps=4",
      "--set",
      "training.eval_interval=2",
      "--set",
      "training.eval_steps=1",
      "--set",
      "training.log_interval=2",
      "--set",
      "training.sample_tokens=4",
    ]));
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /done.*4 steps/);
    const entries = [...Deno.readDirSync(dir)].map((e) => e.name);
    for (const name of ["checkpoints", "mlruns"]) {
      assert.ok(entries.includes(name), `wrote ${entries.join(", ")}`);
    }
  });
});

Deno.test("gpu, --version and configs run from an empty directory with file access limited to it", async () => {
  await inEmptyDir(async (dir) => {
    for (
      const args of [["gpu", "--seconds", "0.2"], ["--version"], ["configs", "show", "base_model"], [
        "train",
        "--config",
        "moe_model",
        "--dry-run",
      ]]
    ) {
      const r = await output(sandboxed(dir, args));
      assert.equal(r.code, 0, `storyteller ${args.join(" ")}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }
  });
});
