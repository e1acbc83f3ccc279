/**
 * The GPT-2 byte-level scheme: every byte gets a printable stand-in character, and text is cut into pre-tokens by
 * the GPT-2 regex before BPE runs inside each one. Not the BPE itself: see tokenizer.ts.
 */

/**
 * Whitespace as Oniguruma (Hugging Face tokenizers' regex engine) reads `\s`: Unicode White_Space. JavaScript's `\s`
 * differs (it has U+FEFF, lacks U+0085), so the class is spelled out to give the same pre-tokens as HF.
 */
const WS = "\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

/** The GPT-2 pre-tokenization pattern (as in HF `ByteLevel` with `use_regex: true`), `g` and `u` flags. */
export const GPT2_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  "gu",
);

/** byte → its stand-in character (GPT-2 `bytes_to_unicode`): printable Latin-1 maps to itself, the rest to U+0100+. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** stand-in character code → byte; -1 for characters that stand for no byte. */
export const CHAR_TO_BYTE: Int16Array = buildCharToByte();

function buildByteToChar(): string[] {
  const out = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : next++);
  }
  return out;
}

function buildCharToByte(): Int16Array {
  const out = new Int16Array(512).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => out[c.charCodeAt(0)] = b);
  return out;
}

/** The stand-in string of a byte sequence (how byte-level tokens are spelled in tokenizer.json). */
export function bytesToTokenString(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}

/** The bytes a stand-in string spells, or null when a character stands for no byte. */
export function tokenStringToBytes(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const b = code < 512 ? CHAR_TO_BYTE[code] : -1;
    if (b < 0) return null;
    out[i] = b;
  }
  return out;
}
