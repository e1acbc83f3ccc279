/**
 * The one seeded uniform generator of the host side (mulberry32): the built-in stories and the oracle generator's
 * sampling both draw from it, so a seed means the same stream everywhere.
 */

/** A deterministic 32-bit generator (mulberry32) of uniforms in [0, 1); the whole stream follows from the seed. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
