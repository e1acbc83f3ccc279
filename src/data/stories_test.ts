import assert from "node:assert/strict";
import { generateStories } from "./stories.ts";

Deno.test("builtin stories are deterministic per seed and differ across seeds", () => {
  const a = [...generateStories({ count: 50, seed: 1 })];
  assert.deepEqual([...generateStories({ count: 50, seed: 1 })], a);
  assert.notDeepEqual([...generateStories({ count: 50, seed: 2 })], a);
  assert.deepEqual([...generateStories({ count: 10, seed: 1 })], a.slice(0, 10));
});

Deno.test("builtin stories are varied, with a small vocabulary and clean text", () => {
  const stories = [...generateStories({ count: 2000, seed: 9 })];
  assert.ok(new Set(stories).size > 1990, "almost every story is distinct");
  const words = new Set(stories.join(" ").toLowerCase().match(/[a-z']+/g));
  assert.ok(words.size > 300 && words.size < 1200, `vocabulary of ${words.size} words`);
  const openings = new Set(stories.map((s) => s.split("\n")[1]?.split(" ").slice(0, 3).join(" ")));
  assert.ok(openings.size > 20, "plots start in many ways");
  for (const s of stories) {
    assert.ok(s.length > 200 && s.length < 3000);
    assert.doesNotMatch(s, /undefined|THING|\$\{| [.,!?]| {2}/);
    assert.match(s, /"/); // every plot has dialogue
    assert.match(s, /[.!"]$/);
  }
});
