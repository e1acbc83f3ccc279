import { checkGradient } from "./gradcheck.ts";
import { crossEntropyBackward, crossEntropyForward } from "./crossentropy.ts";
import { randomArray } from "../gpu/testing.ts";

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

Deno.test("reference cross-entropy gradient matches finite differences of the scaled loss", () => {
  const [N, V, dscale] = [5, 7, 1 / 5];
  const logits = randomArray(N * V, 1, 3);
  const targets = Uint32Array.from([0, 6, 3, 3, 1]);
  const dlogits = crossEntropyBackward(logits, targets, N, V, dscale);
  const loss = (x: Float32Array) => dscale * sum(crossEntropyForward(x, targets, N, V).losses);
  checkGradient("dlogits", loss, logits, dlogits, { eps: 1e-3, samples: N * V });
});

Deno.test("reference cross-entropy equals log V on uniform logits and ignores targets ≥ V", () => {
  const [N, V] = [2, 10];
  const logits = new Float32Array(N * V).fill(0.5);
  const targets = Uint32Array.from([4, 0xffffffff]);
  const { losses } = crossEntropyForward(logits, targets, N, V);
  if (Math.abs(losses[0] - Math.log(V)) > 1e-6 || losses[1] !== 0) throw new Error(`losses ${losses}`);
  const d = crossEntropyBackward(logits, targets, N, V, 1);
  if (sum(d.subarray(V)) !== 0 || Math.abs(sum(d.subarray(0, V))) > 1e-6) throw new Error(`dlogits ${d}`);
});
