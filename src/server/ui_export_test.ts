import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeGguf } from "../export/mod.ts";
import { writeRandomModel } from "../serve/testing.ts";
import { FileStore, fileUriToPath } from "../tracking/mod.ts";
import { tarFiles } from "./ui_export.ts";
import { uiApp } from "./ui.ts";

/** The names and sizes in a ustar archive (the test's own reader). */
function untar(bytes: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const dec = new TextDecoder();
  for (let at = 0; at + 512 <= bytes.length;) {
    const h = bytes.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const name = dec.decode(h.subarray(0, 100)).replace(/\0.*$/s, "");
    const size = parseInt(dec.decode(h.subarray(124, 136)).replace(/\0.*$/s, ""), 8);
    const sum = h.reduce((a, b, i) => a + (i >= 148 && i < 156 ? 0x20 : b), 0);
    assert.equal(parseInt(dec.decode(h.subarray(148, 156)), 8), sum, `checksum of ${name}`);
    out.set(name, bytes.slice(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

Deno.test("tarFiles writes a ustar archive a reader takes back", () => {
  const files = new Map<string, Uint8Array | string>([["a.json", "{}"], [
    "b.bin",
    new Uint8Array(700).fill(7),
  ]]);
  const back = untar(tarFiles("m", files));
  assert.deepEqual([...back.keys()], ["m/a.json", "m/b.bin"]);
  assert.equal(new TextDecoder().decode(back.get("m/a.json")), "{}");
  assert.deepEqual(back.get("m/b.bin"), new Uint8Array(700).fill(7));
});

Deno.test("ui export: a run's model downloads as GGUF or an HF tar; bad requests are 4xx", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ui_export_" });
  try {
    const store = new FileStore(`${dir}/mlruns`);
    const run = await store.createRun({});
    const bare = await store.createRun({});
    await writeRandomModel(join(fileUriToPath(run.info.artifactUri), "model"), { seed: 3 });
    const app = uiApp({ client: store });
    const get = (q: string) =>
      app.request(`/api/storyteller/export?${q}`, { headers: { host: "127.0.0.1" } });

    const gguf = await get(`run_id=${run.info.runId}&format=gguf`);
    assert.equal(gguf.status, 200, await gguf.clone().text());
    assert.match(
      gguf.headers.get("content-disposition")!,
      /attachment; filename="storyteller-\w{8}-f32\.gguf"/,
    );
    const file = decodeGguf(new Uint8Array(await gguf.arrayBuffer()));
    assert.ok(file.tensors.has("token_embd.weight"), "llama tensor names");

    const hf = await get(`run_id=${run.info.runId}&format=hf&dtype=f16`);
    assert.equal(hf.status, 200);
    const names = [...untar(new Uint8Array(await hf.arrayBuffer())).keys()].map((n) => n.split("/")[1])
      .sort();
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
      assert.ok(names.includes(f), `${f} in ${names.join(", ")}`);
    }

    for (
      const [q, status] of [
        [`run_id=${run.info.runId}&format=onnx`, 400],
        [`run_id=${run.info.runId}&format=gguf&dtype=q4`, 400],
        [`format=gguf`, 400],
        [`run_id=${bare.info.runId}&format=gguf`, 404],
        [`run_id=${"f".repeat(32)}&format=gguf`, 404],
      ] as const
    ) {
      const res = await get(q);
      assert.equal(res.status, status, `${q}: ${await res.text()}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
