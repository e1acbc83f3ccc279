import { checkGradient, dot, projection } from "./gradcheck.ts";
import { swigluBackward, swigluForward } from "./swiglu.ts";
import { randomArray } from "../gpu/testing.ts";

Deno.test("reference swiglu gradients match finite differences", () => {
  const n = 23;
  const gate = randomArray(n, 1, 4);
  const up = randomArray(n, 2, 2);
  const w = projection(n, 3); // loss = Σ h·w, so dout = w
  const { dgate, dup } = swigluBackward(w, gate, up);
  const opts = { eps: 1e-3, samples: n };
  checkGradient("dgate", (g) => dot(swigluForward(g, up), w), gate, dgate, opts);
  checkGradient("dup", (u) => dot(swigluForward(gate, u), w), up, dup, opts);
});
