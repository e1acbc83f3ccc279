/** UTF-8 helpers for streaming reads: where a chunk may be cut, and where invalid bytes start. */

/** Length of the longest prefix of `bytes` that does not end inside a multi-byte sequence. */
export function completePrefix(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = bytes[n - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return back < need ? n - back : n;
  }
  return n;
}

/** Byte offset of the first invalid UTF-8 sequence in `bytes` (as TextDecoder's fatal mode judges), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number, min: number, max = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1, min = 0x80;
    else if (b === 0xe0) need = 2, min = 0xa0;
    else if (b >= 0xe1 && b <= 0xef) need = 2, min = 0x80, max = b === 0xed ? 0x9f : 0xbf;
    else if (b === 0xf0) need = 3, min = 0x90;
    else if (b >= 0xf1 && b <= 0xf3) need = 3, min = 0x80;
    else if (b === 0xf4) need = 3, min = 0x80, max = 0x8f;
    else return i;
    if (i + need >= n) return i; // truncated at the end
    const b1 = bytes[i + 1];
    if (b1 < min || b1 > max) return i;
    for (let k = 2; k <= need; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}
