import { checkGradient, dot, projection } from "./gradcheck.ts";
import { matmul } from "./matmul.ts";
import { randomArray } from "../gpu/testing.ts";

Deno.test("reference matmul gradients match finite differences in every form", () => {
  const [M, K, N] = [5, 7, 3];
  const a = randomArray(M * K, 1);
  const b = randomArray(K * N, 2);
  const w = projection(M * N, 3); // loss = Σ C·w, so dC = w
  // dA = dC · Bᵀ, dB = Aᵀ · dC, each through the transposed forms of the same op.
  const da = matmul(w, b, M, N, K, { transB: true });
  const db = matmul(a, w, K, M, N, { transA: true });
  checkGradient("dA", (x) => dot(matmul(x, b, M, K, N), w), a, da);
  checkGradient("dB", (x) => dot(matmul(a, x, M, K, N), w), b, db);
});
