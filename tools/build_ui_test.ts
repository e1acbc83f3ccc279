import assert from "node:assert/strict";
import { buildUi } from "./build_ui.ts";

Deno.test("ui bundle: the committed ui/dist matches a fresh build of ui/", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ui_build_" });
  try {
    const fresh = await buildUi(dir);
    const root = new URL("../ui/dist/", import.meta.url);
    for (const [name, path] of [["app.js", fresh.js], ["app.css", fresh.css]]) {
      const committed = await Deno.readTextFile(new URL(name, root)).catch(() => "");
      assert.ok(
        committed === await Deno.readTextFile(path),
        `ui/dist/${name} is stale: run \`deno run -A tools/build_ui.ts\` and commit ui/dist`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
