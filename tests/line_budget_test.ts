/**
 * The line budget CI watches (STYLE: one concept per file, split past ~400 lines along a seam a reader would
 * name): no source file, kernel or UI module may pass the hard cap below. Tests and generated bundles are exempt.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
/** Hard cap; the habit is ~400. A file that needs more has a seam to split along. */
const MAX_LINES = 500;
const DIRS = ["src", "kernels", "ui", "tools"];
const SOURCE = /\.(ts|tsx|wgsl)$/;

function* sources(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory && e.name !== "dist" && e.name !== "testdata") yield* sources(path);
    else if (e.isFile && SOURCE.test(e.name) && !/_test\.tsx?$/.test(e.name)) yield path;
  }
}

Deno.test(`no source file is longer than ${MAX_LINES} lines`, () => {
  const over = [...DIRS.flatMap((d) => [...sources(d)]), "main.ts"]
    .map((path) => ({ path, lines: Deno.readTextFileSync(`${ROOT}${path}`).split("\n").length - 1 }))
    .filter((f) => f.lines > MAX_LINES)
    .map((f) => `${f.path}: ${f.lines} lines`);
  assert.deepEqual(over, [], `split these along a seam:\n${over.join("\n")}`);
});
