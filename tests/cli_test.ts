/** End-to-end checks of the command-line contract: help everywhere, exit codes, one-line errors. */
import assert from "node:assert/strict";
import type { Command } from "commander";
import { buildProgram, run } from "../src/cli/mod.ts";
import { gpuTest } from "../src/gpu/testing.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function storyteller(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function allCommands(cmd: Command, path: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...path, c.name()], ...allCommands(c, [...path, c.name()])]);
}

Deno.test("every command and subcommand answers --help with exit code 0", async () => {
  const paths = allCommands(buildProgram());
  for (
    const name of ["train", "ui", "server", "serve", "generate", "runs", "experiments", "models", "tokenizer"]
  ) {
    assert.ok(paths.some((p) => p[0] === name), `missing command ${name}`);
  }
  for (const name of ["bench", "gpu", "configs"]) {
    assert.ok(paths.some((p) => p[0] === name), `missing command ${name}`);
  }
  for (const p of paths) {
    assert.equal(await run([...p, "--help"]), 0, `storyteller ${p.join(" ")} --help`);
  }
});

Deno.test("--version prints the version from deno.json", async () => {
  const r = await storyteller(["--version"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^storyteller \d+\.\d+\.\d+\n/);
  assert.match(r.stdout, new RegExp(`deno ${Deno.version.deno.replaceAll(".", "\\.")}, v8 `));
  assert.match(r.stdout, /WebGPU adapter: \S/);
});

Deno.test("configs list names every embedded config; configs show prints its exact text", async () => {
  const list = await storyteller(["configs", "list"]);
  assert.equal(list.code, 0, list.stderr);
  for (const name of ["tiny", "base_model", "moe_model"]) {
    assert.match(list.stdout, new RegExp(`^${name} `, "m"));
  }
  assert.match(list.stdout, /moe_model .*active/);
  const show = await storyteller(["configs", "show", "base_model"]);
  assert.equal(show.code, 0);
  assert.equal(show.stdout, await Deno.readTextFile(new URL("../configs/base_model.yaml", import.meta.url)));
  const bad = await storyteller(["configs", "show", "huge_model"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /Cannot show config 'huge_model'.*\nhint: embedded configs: base_model, moe_model, tiny/,
  );
});

Deno.test("a config typo exits 2 with file:line:col, the nearest key, and no stack trace", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, "model:\n  hiden_size: 64\n");
    const r = await storyteller(["train", "--config", `${dir}/bad.yaml`, "--dry-run"]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr.trim(),
      `error: ${dir}/bad.yaml:2:3: model.hiden_size: unknown key\nhint: did you mean 'model.hidden_size'?`,
    );
    const debug = await storyteller(["train", "--config", `${dir}/bad.yaml`], { STORYTELLER_DEBUG: "1" });
    assert.match(debug.stderr, /at /, "STORYTELLER_DEBUG shows the stack");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("usage errors exit 2; --dry-run prints the resolved config, parameter count and memory", async () => {
  assert.equal((await storyteller(["no-such-command"])).code, 2);
  assert.equal((await storyteller(["train", "--no-such-flag"])).code, 2);
  const r = await storyteller([
    "train",
    "--config",
    "base_model",
    "--dry-run",
    "--set",
    "training.batch_size=8",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /hidden_size: 288/);
  assert.match(r.stdout, /batch_size: 8/);
  assert.match(r.stdout, /parameters: 7,1\d\d,\d\d\d/);
  assert.match(r.stdout, /memory estimate: [\d.]+ MiB/);
  assert.ok(!r.stdout.includes("\x1b["), "no colors when not a TTY");
});

gpuTest(
  "a model beyond the adapter's buffer limit exits 2 at once: the buffer, its size, the limit, no data work",
  {
    // 16.3 GiB of parameters: past maxBufferSize on lavapipe (2 GiB); an adapter that can hold them has nothing to refuse
    unless: (gpu) =>
      gpu.limits.maxBufferSize >= 17_532_239_872 ? "maxBufferSize holds a 16.3 GiB model" : null,
  },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "st-oversize-" });
    try {
      const r = await storyteller([
        "train",
        ...[
          "--set",
          "model.vocab_size=1048576",
          "--set",
          "model.hidden_size=4096",
          "--set",
          "model.num_heads=32",
        ],
        ...["--set", "model.intermediate_size=4096", "--set", "model.num_layers=1"],
        ...["--set", "training.use_mlflow=false", "--set", `training.checkpoint_dir=${dir}/ckpt`],
        ...["--set", `data.cache_dir=${dir}/cache`],
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /^error: Cannot create GPU buffer 'params' of 16\.33 GiB \(17,532,239,872 bytes\): /m,
      );
      assert.match(r.stderr, /\(maxBufferSize\)\nhint: lower training\.batch_size/);
      assert.doesNotMatch(r.stderr, /GPU error|at .*\.ts:\d+/, "one error, no WebGPU echoes, no stack");
      assert.deepEqual([...Deno.readDirSync(dir)], [], "no tokenizer, token cache or checkpoint was written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("gpu names the adapter's vendor (PCI and Khronos ids), not a bare number", async () => {
  const { vendorName } = await import("../src/cli/gpu.ts");
  assert.equal(vendorName("65541"), "Mesa (0x10005)");
  assert.equal(vendorName("4318"), "NVIDIA (0x10de)");
  assert.equal(vendorName("0x8086"), "Intel (0x8086)");
  assert.equal(vendorName("99999"), "unknown vendor 0x1869f");
  assert.equal(vendorName("apple"), "apple");
  assert.equal(vendorName(""), "(not reported)");
});
