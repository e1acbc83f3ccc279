/**
 * Seeded fuzzing of the files storyteller reads from users (issue 15): config YAML, a checkpoint's state.json, a
 * safetensors file and a tokenizer.json, each mutated thousands of ways (bytes and characters dropped, repeated,
 * replaced; lengths and numbers made huge). Every case must parse or fail with storyteller's own error (a
 * UsageError, or an Error whose message says what it cannot do), never a TypeError/RangeError from deep inside, a
 * hang or a huge allocation. `FUZZ_SEED=<n> FUZZ_CASES=<n>` replays or widens a run.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../src/config/mod.ts";
import { parseTrainState } from "../src/model/train_state.ts";
import { decodeSafetensors, encodeSafetensors } from "../src/model/safetensors.ts";
import { makeRng, parseTokenizerJson, PreTokenCounts, tokenizerToJson, trainBpe } from "../src/data/mod.ts";
import { UsageError } from "../src/errors.ts";
import tinyYaml from "../configs/tiny.yaml" with { type: "text" };

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261208);
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 600);

/** Byte-level mutations: drop, repeat, replace, insert a special byte run, or overwrite 4 bytes with a huge value. */
function mutateBytes(rnd: () => number, input: Uint8Array): Uint8Array {
  const out = [...input];
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n && out.length; k++) {
    const at = Math.floor(rnd() * out.length);
    const r = rnd();
    if (r < 0.25) out.splice(at, 1 + Math.floor(rnd() * 8));
    else if (r < 0.45) out.splice(at, 0, ...out.slice(at, at + 1 + Math.floor(rnd() * 16)));
    else if (r < 0.7) out[at] = Math.floor(rnd() * 256);
    else if (r < 0.85) out.splice(at, 0, ...[0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x00, 0x0a]);
    else for (let i = 0; i < 4 && at + i < out.length; i++) out[at + i] = 0xff;
  }
  return Uint8Array.from(out);
}

/** Passes when `fn` returns, or throws storyteller's own kind of error; returns a failure description otherwise. */
function clean(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof UsageError) return undefined;
    if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError) {
      return `${err.name}: ${err.message}`;
    }
    if (err instanceof Error && /^(Cannot|Invalid|Unsupported|[a-z_.]+:)/.test(err.message)) return undefined;
    return `${(err as Error)?.name}: ${(err as Error)?.message}`;
  }
}

function fuzz(
  name: string,
  valid: Uint8Array,
  parse: (bytes: Uint8Array) => unknown,
  seed: number,
): string[] {
  const rnd = makeRng(seed);
  assert.equal(clean(() => parse(valid)), undefined, `${name}: the valid input parses`);
  const failures: string[] = [];
  for (let i = 0; i < CASES && failures.length < 3; i++) {
    const input = mutateBytes(rnd, valid);
    const t0 = performance.now();
    const bad = clean(() => parse(input));
    const ms = performance.now() - t0;
    // A generous bound: a mutated length field must be refused, not looped over or allocated (seconds, not ms).
    if (bad || ms > 5_000) failures.push(`${name} #${i} (${ms.toFixed(0)} ms): ${bad ?? "too slow"}`);
  }
  return failures;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test(`fuzz: config YAML, state.json, safetensors and tokenizer.json mutated ${CASES} ways each (seed ${SEED})`, () => {
  const enc = new TextEncoder();
  const pre = new PreTokenCounts();
  pre.add('Once upon a time there was a small fox who liked to run. It ran and ran, "fast!"');
  const tok = trainBpe(pre, { vocabSize: 300, specials: ["<|endoftext|>"] });
  const state = {
    step: 3,
    config: { training: { max_steps: 12 } },
    sampler: { seed: 1337, step: 3, rng: [1, 2, 3, 4294967295] },
    runName: "tiny-1",
    runId: "9c0960e5d6f54a2c8a2f2b4b8d1e0f3a",
    amp: { dtype: "float16", lossScale: 32768, cleanSteps: 2, skippedSteps: 1 },
  };
  const tensors = encodeSafetensors([
    { name: "a", dtype: "F32", shape: [2, 3], data: new Float32Array(6).fill(1.5) },
    { name: "b", dtype: "F16", shape: [4], data: new Uint16Array(4).fill(0x3c00) },
  ], { format: "pt" });
  const failures = [
    ...fuzz("config", enc.encode(tinyYaml), (b) => parseConfig(text(b), "fuzz.yaml"), SEED),
    ...fuzz(
      "state.json",
      enc.encode(JSON.stringify(state)),
      (b) => parseTrainState(text(b), "state.json"),
      SEED + 1,
    ),
    ...fuzz("safetensors", tensors, (b) => decodeSafetensors(b, "fuzz.safetensors"), SEED + 2),
    ...fuzz("tokenizer.json", enc.encode(tokenizerToJson(tok)), (b) => parseTokenizerJson(text(b)), SEED + 3),
  ];
  assert.deepEqual(failures, [], `seed ${SEED}:\n${failures.join("\n")}`);
});
