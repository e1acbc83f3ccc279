import assert from "node:assert/strict";
import { join } from "node:path";
import { appendText, cutTornTail } from "./_fs.ts";
import { parseMetricLines } from "./meta.ts";

async function withDir(f: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "st-fs-" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("appendText: a torn tail left by a crashed writer is cut, never glued onto", () =>
  withDir((dir) => {
    const path = join(dir, "loss");
    // What a writer killed mid-line leaves: two committed points, then the start of a third.
    Deno.writeTextFileSync(path, "1700000000000 0.5 189\n1700000000001 0.4 190\n1000");
    assert.deepEqual(parseMetricLines("loss", Deno.readTextFileSync(path), path).map((m) => m.step), [
      189,
      190,
    ]);
    appendText(path, "1700000000002 0.3 192\n");
    const text = Deno.readTextFileSync(path);
    assert.equal(text, "1700000000000 0.5 189\n1700000000001 0.4 190\n1700000000002 0.3 192\n");
    const points = parseMetricLines("loss", text, path);
    assert.deepEqual(points.at(-1), { key: "loss", value: 0.3, timestamp: 1700000000002, step: 192 });
  }));

Deno.test("cutTornTail: keeps whole lines, empties a file that never got a newline, reads long tails", () =>
  withDir((dir) => {
    const path = join(dir, "f");
    const cut = (text: string) => {
      Deno.writeTextFileSync(path, text);
      const f = Deno.openSync(path, { read: true, write: true });
      try {
        return { size: cutTornTail(f), text: Deno.readTextFileSync(path) };
      } finally {
        f.close();
      }
    };
    assert.deepEqual(cut(""), { size: 0, text: "" });
    assert.deepEqual(cut("a\nb\n"), { size: 4, text: "a\nb\n" });
    assert.deepEqual(cut("a\nb"), { size: 2, text: "a\n" });
    assert.deepEqual(cut("no newline at all"), { size: 0, text: "" });
    const long = "x".repeat(10_000);
    assert.deepEqual(cut(`a\n${long}`), { size: 2, text: "a\n" }, "a tail longer than one read block");
    assert.deepEqual(cut(`${long}\n${long}`), { size: 10_001, text: `${long}\n` });
  }));

Deno.test({
  name: "appendText: a write that fails part-way (file too large, as on a full disk) is rolled back",
  ignore: Deno.build.os !== "linux",
  fn: () =>
    withDir(async (dir) => {
      const path = join(dir, "loss");
      const before = "x".repeat(1000) + "\n";
      Deno.writeTextFileSync(path, before);
      const script = join(dir, "append.ts");
      Deno.writeTextFileSync(
        script,
        `import { appendText } from ${JSON.stringify(new URL("./_fs.ts", import.meta.url).href)};\n` +
          `try { appendText(${JSON.stringify(path)}, "1700000000000 0.5 190\\n".repeat(5)); }\n` +
          `catch (e) { console.log("failed: " + e.message); }\n`,
      );
      // A 1 KiB file size limit: the kernel writes the first 23 bytes, then refuses the rest (EFBIG, the
      // signal ignored), the same short write then error a full disk gives.
      const out = await new Deno.Command("bash", {
        args: ["-c", `trap '' XFSZ; ulimit -f 1; exec "$0" run --no-config -A "$1"`, Deno.execPath(), script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.match(new TextDecoder().decode(out.stdout), /failed: File too large/);
      assert.equal(Deno.readTextFileSync(path), before, "no partial line stays behind");
      appendText(path, "1700000000000 0.5 191\n");
      assert.equal(Deno.readTextFileSync(path), before + "1700000000000 0.5 191\n");
    }),
});
