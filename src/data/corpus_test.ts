import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { BUILTIN_STORIES, formatOf, readCorpus, readFileDocuments, resolveCorpus } from "./corpus.ts";

const dirs: string[] = [];
globalThis.addEventListener("unload", () => dirs.forEach((d) => Deno.removeSync(d, { recursive: true })));

async function tempFiles(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "storyteller-corpus-" });
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return dir;
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rejectsUsage(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("reads <|endoftext|>-separated text, blank-line paragraphs and jsonl", async () => {
  const dir = await tempFiles({
    "a.txt": "\ufeffOne story.\nSecond line.\n<|endoftext|>\nTwo story.\n<|endoftext|>\n\n",
    "b.md": "Para one\nstill one.\n\n  \nPara two.\n\n\n",
    "c.jsonl": '{"text": "Json one."}\n\n{"text": "Json two.", "x": 1}',
    "d.jsonl": '{"story": "Custom field."}\n',
  });
  assert.deepEqual(await collect(readFileDocuments(`${dir}/a.txt`, "text")), [
    "One story.\nSecond line.",
    "Two story.",
  ]);
  assert.deepEqual(await collect(readFileDocuments(`${dir}/b.md`, "paragraphs")), [
    "Para one\nstill one.",
    "Para two.",
  ]);
  assert.deepEqual(await collect(readFileDocuments(`${dir}/c.jsonl`, "jsonl")), ["Json one.", "Json two."]);
  assert.deepEqual(await collect(readFileDocuments(`${dir}/d.jsonl`, "jsonl", "story")), ["Custom field."]);
  assert.equal(formatOf("x/y.JSONL", "auto"), "jsonl");
  assert.equal(formatOf("x/y.md", "auto"), "paragraphs");
  assert.equal(formatOf("x/y.txt", "auto"), "text");
  assert.equal(formatOf("x/y.txt", "paragraphs"), "paragraphs");
});

Deno.test("documents that straddle 1 MiB read chunks come out whole", async () => {
  const doc = "word ".repeat(70_000).trim(); // ~350 KB each, so separators land across chunk edges
  const text = Array.from({ length: 8 }, (_, i) => `${i} ${doc} ü`).join("\n<|endoftext|>\n");
  const dir = await tempFiles({ "big.txt": text });
  const docs = await collect(readFileDocuments(`${dir}/big.txt`, "text"));
  assert.equal(docs.length, 8);
  docs.forEach((d, i) => assert.equal(d, `${i} ${doc} ü`));
});

Deno.test("expands directories and globs in sorted order, picking formats by extension", async () => {
  const dir = await tempFiles({
    "d/b.txt": "B",
    "d/a.jsonl": '{"text":"A"}',
    "d/sub/c.md": "C1\n\nC2",
    "d/skip.bin": "nope",
    "d/.hidden.txt": "nope",
  });
  const fromDir = await resolveCorpus([`${dir}/d`]);
  assert.deepEqual(fromDir.map((s) => s.kind === "file" && s.path.slice(dir.length)), [
    "/d/a.jsonl",
    "/d/b.txt",
    "/d/sub/c.md",
  ]);
  assert.deepEqual(await collect(readCorpus(fromDir)), ["A", "B", "C1", "C2"]);
  const fromGlob = await resolveCorpus([`${dir}/d/**/*.md`, `${dir}/d/?.txt`]);
  assert.deepEqual(await collect(readCorpus(fromGlob)), ["C1", "C2", "B"]);
  const builtin = await resolveCorpus([BUILTIN_STORIES], { builtinStories: 12, builtinSeed: 5 });
  assert.deepEqual(builtin, [{ kind: "builtin", stories: 12, seed: 5 }]);
  assert.equal((await collect(readCorpus(builtin))).length, 12);
});

Deno.test("missing paths, empty globs and empty corpora are usage errors", async () => {
  const dir = await tempFiles({ "empty.txt": " \n<|endoftext|>\n\n", "e/x.bin": "" });
  await rejectsUsage(resolveCorpus([`${dir}/nope.txt`]), /Cannot read corpus: '.*nope.txt' does not exist/);
  await rejectsUsage(resolveCorpus([`${dir}/*.jsonl`]), /no files match/);
  await rejectsUsage(resolveCorpus([`${dir}/e`]), /holds no .* files/);
  await rejectsUsage(resolveCorpus(["builtin:poems"]), /unknown built-in corpus/);
  await rejectsUsage(resolveCorpus([]), /no paths given/);
  await rejectsUsage(
    collect(readCorpus(await resolveCorpus([`${dir}/empty.txt`]))),
    /Cannot read corpus: no text in/,
  );
});

Deno.test("invalid UTF-8 names the file and byte offset, also past the first chunk", async () => {
  const head = new TextEncoder().encode("ok ü\n");
  const bad = new Uint8Array([...head, 0xff, 0x41]);
  const far = new Uint8Array((1 << 20) + 10).fill(0x61);
  far[(1 << 20) - 1] = 0xe2; // a 3-byte lead cut by the chunk edge, then a broken continuation
  far[1 << 20] = 0x82;
  far[(1 << 20) + 1] = 0x41;
  const truncated = new Uint8Array([0x61, 0x62, 0xf0, 0x9f]);
  const dir = await tempFiles({ "bad.txt": bad, "far.txt": far, "cut.txt": truncated });
  await rejectsUsage(
    collect(readFileDocuments(`${dir}/bad.txt`, "text")),
    /bad.txt: invalid UTF-8 at byte offset 6$/,
  );
  await rejectsUsage(
    collect(readFileDocuments(`${dir}/far.txt`, "text")),
    /far.txt: invalid UTF-8 at byte offset 1048575$/,
  );
  await rejectsUsage(
    collect(readFileDocuments(`${dir}/cut.txt`, "text")),
    /cut.txt: invalid UTF-8 at byte offset 2$/,
  );
});

Deno.test("a bad jsonl line names file:line", async () => {
  const dir = await tempFiles({
    "a.jsonl": '{"text":"fine"}\n\n{"text": oops}\n',
    "b.jsonl": '{"text":"fine"}\n{"body":"no text field"}\n',
    "c.jsonl": '{"text":"fine"}\n{"text": 42}',
  });
  await rejectsUsage(collect(readFileDocuments(`${dir}/a.jsonl`, "jsonl")), /a.jsonl:3: not JSON/);
  await rejectsUsage(
    collect(readFileDocuments(`${dir}/b.jsonl`, "jsonl")),
    /b.jsonl:2: no string field 'text'/,
  );
  await rejectsUsage(
    collect(readFileDocuments(`${dir}/c.jsonl`, "jsonl")),
    /c.jsonl:2: no string field 'text'/,
  );
});
