import assert from "node:assert/strict";
import { readTokenFile, tokenDtype, TokenFileWriter, writeTokenFile } from "./token_cache.ts";

Deno.test("token files are flat little-endian uint16/uint32 and leave no temp files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "storyteller-tokens-" });
  try {
    assert.equal(tokenDtype(65536), "uint16");
    assert.equal(tokenDtype(65537), "uint32");
    const w = await TokenFileWriter.create(`${dir}/a.bin`, "uint16");
    await w.push([1, 258, 65535]);
    await w.push(Array.from({ length: (1 << 20) + 5 }, (_, i) => i % 7)); // crosses a flush
    await w.commit();
    const bytes = await Deno.readFile(`${dir}/a.bin`);
    assert.deepEqual([...bytes.subarray(0, 6)], [1, 0, 2, 1, 255, 255]);
    const back = await readTokenFile(`${dir}/a.bin`, "uint16");
    assert.equal(back.length, 3 + (1 << 20) + 5);
    assert.equal(w.count, back.length);
    assert.equal(back[3 + (1 << 20) + 4], ((1 << 20) + 4) % 7);

    await writeTokenFile(`${dir}/b.bin`, Uint32Array.of(1, 70000));
    assert.deepEqual([...await Deno.readFile(`${dir}/b.bin`)], [1, 0, 0, 0, 0x70, 0x11, 1, 0]);
    const aborted = await TokenFileWriter.create(`${dir}/c.bin`, "uint32");
    await aborted.push([1]);
    await aborted.abort();
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["a.bin", "b.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
