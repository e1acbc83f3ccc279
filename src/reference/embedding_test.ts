import { checkGradient, dot, projection } from "./gradcheck.ts";
import { embeddingBackward, embeddingForward } from "./embedding.ts";
import { randomArray } from "../gpu/testing.ts";

Deno.test("reference embedding backward matches finite differences with repeated ids", () => {
  const [N, C, V] = [9, 5, 4];
  const ids = Uint32Array.from([3, 0, 3, 1, 3, 0, 2, 1, 3]);
  const weight = randomArray(V * C, 1);
  const w = projection(N * C, 2); // loss = Σ out·w, so dout = w
  const dweight = embeddingBackward(ids, w, N, C, V);
  checkGradient("dweight", (x) => dot(embeddingForward(ids, x, N, C), w), weight, dweight, {
    samples: V * C,
  });
});

Deno.test("reference embedding backward accumulates into an existing gradient", () => {
  const ids = Uint32Array.from([1, 1]);
  const base = Float32Array.from([1, 2, 3, 4]);
  const got = embeddingBackward(ids, Float32Array.from([0.5, 0.25, 1, 1]), 2, 2, 2, base);
  if (got !== base || got.join() !== "1,2,4.5,5.25") throw new Error(`unexpected ${got}`);
});
