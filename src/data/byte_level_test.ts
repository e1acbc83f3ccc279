import assert from "node:assert/strict";
import {
  BYTE_TO_CHAR,
  bytesToTokenString,
  CHAR_TO_BYTE,
  GPT2_PATTERN,
  tokenStringToBytes,
} from "./byte_level.ts";

Deno.test("byte map is a bijection onto GPT-2's stand-in characters", () => {
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(BYTE_TO_CHAR[0x20], "\u0120"); // 'Ġ'
  assert.equal(BYTE_TO_CHAR[0x0a], "\u010a"); // 'Ċ'
  assert.equal(BYTE_TO_CHAR[0x41], "A");
  for (let b = 0; b < 256; b++) assert.equal(CHAR_TO_BYTE[BYTE_TO_CHAR[b].charCodeAt(0)], b);
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(tokenStringToBytes(bytesToTokenString(all)), all);
  assert.equal(tokenStringToBytes("a b"), null); // a plain space stands for no byte
});

Deno.test("GPT-2 pattern splits contractions, words with their space, numbers, punctuation and whitespace", () => {
  const pieces = "Tom's dog  ran 42 km!! \n\nOK".match(GPT2_PATTERN);
  assert.deepEqual(pieces, ["Tom", "'s", " dog", " ", " ran", " 42", " km", "!!", " \n", "\n", "OK"]);
  // U+FEFF is not whitespace for Oniguruma (HF), U+0085 is.
  assert.deepEqual("a\ufeffb".match(GPT2_PATTERN), ["a", "\ufeff", "b"]);
  assert.deepEqual("a\u0085b".match(GPT2_PATTERN), ["a", "\u0085", "b"]);
});
