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
    const runId = r.stdout.match(/\b([0-9a-f]{32})\b/)?.[1];
    assert.ok(runId, `no run id in:\n${r.stdout}`);

    const story = await output(
      sandboxed(dir, ["generate", "-m", `runs:/${runId}/model`, "--max-tokens", "8"]),
    );
    assert.equal(story.code, 0, story.stderr);
    assert.match(story.stdout, /^Once upon a time/);

    // The tracking UI and server: a page, the bundle it loads, and an API call.
    await withServer(sandboxed(dir, ["ui", "--port", "0"], ["--allow-net=127.0.0.1"]), async (url) => {
      const page = await fetch(url);
      assert.equal(page.status, 200);
      const html = await page.text();
      const script = html.match(/src="([^"]+\.js[^"]*)"/)?.[1];
      assert.ok(script, html);
      const js = await fetch(new URL(script, url));
      assert.equal(js.status, 200);
      assert.ok((await js.text()).length > 10_000);
      const exp = await fetch(
        new URL("/api/2.0/mlflow/experiments/get-by-name?experiment_name=storyteller", url),
      );
      assert.equal(exp.status, 200);
      const { experiment } = await exp.json();
      const search = await fetch(new URL("/api/2.0/mlflow/runs/search", url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ experiment_ids: [experiment.experiment_id] }),
      });
      assert.equal(search.status, 200);
      assert.ok(JSON.stringify(await search.json()).includes(runId));
    });

    // `storyteller server` with the artifact proxy: an MLflow client's artifact upload lands in the sandbox.
    await withServer(
      sandboxed(dir, ["server", "--port", "0", "--artifacts-destination", "./mlartifacts"], [
        "--allow-net=127.0.0.1",
      ]),
      async (url) => {
        const health = await fetch(new URL("/health", url));
        assert.equal(health.status, 200);
        await health.body?.cancel();
        const put = await fetch(new URL("/api/2.0/mlflow-artifacts/artifacts/0/probe/notes.txt", url), {
          method: "PUT",
          body: "hello",
        });
        assert.equal(put.status, 200, await put.text());
        const got = await fetch(new URL("/api/2.0/mlflow-artifacts/artifacts/0/probe/notes.txt", url));
        assert.equal(await got.text(), "hello");
      },
    );
    assert.equal(Deno.readTextFileSync(`${dir}/mlartifacts/0/probe/notes.txt`), "hello");

    // Model serving from the run's logged model.
    await withServer(
      sandboxed(dir, ["serve", "-m", `runs:/${runId}/model`, "--port", "0"], ["--allow-net=127.0.0.1"]),
      async (url) => {
        for (let i = 0; i < 600 && (await fetch(new URL("/ping", url)).then(pingStatus)) !== 200; i++) {
          await new Promise((ok) => setTimeout(ok, 100));
        }
        const res = await fetch(new URL("/v1/completions", url), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 4, temperature: 0 }),
        });
        assert.equal(res.status, 200);
        const body = await res.json();
        assert.equal(typeof body.choices[0].text, "string");
      },
    );
  });
});

async function pingStatus(r: Response): Promise<number> {
  await r.body?.cancel();
  return r.status;
}

/** Starts a long-running command, waits for the URL it prints, runs `fn`, then stops it. */
async function withServer(cmd: Deno.Command, fn: (url: string) => Promise<void>): Promise<void> {
  const child = cmd.spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  try {
    let url: string | undefined;
    while (!url) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`exited before listening:\n${seen}\n${await stderr}`);
      seen += value;
      url = seen.match(/http:\/\/127\.0\.0\.1:\d+\/?/)?.[0];
    }
    await fn(url);
  } finally {
    child.kill("SIGTERM");
    await reader.cancel().catch(() => {});
    await child.status;
    await stderr;
  }
}

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
