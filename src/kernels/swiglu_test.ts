import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import * as ref from "../reference/swiglu.ts";
import { swigluBackward, swigluForward } from "./swiglu.ts";

gpuTest("swiglu forward and backward match the reference on odd and vec4 sizes", async (gpu) => {
  for (const n of [1, 13, 3 * 37, 1028, 5 * 263]) {
    const gate = randomArray(n, n, 6);
    gate[0] = -100; // saturated sigmoid must give 0, not NaN
    const up = randomArray(n, n + 1, 2);
    const dout = randomArray(n, n + 2, 1);
    const bufs = [gate, up, dout].map((a, i) => createBuffer(gpu.device, `in${i}`, a));
    const [G, U, D] = bufs;
    const [H, DG, DU] = [0, 1, 2].map((i) => createBuffer(gpu.device, `out${i}`, n * 4));
    const batch = new CommandBatch(gpu, "swiglu test");
    swigluForward(batch, { gate: G, up: U, out: H, n });
    swigluBackward(batch, { dout: D, gate: G, up: U, dgate: DG, dup: DU, n });
    batch.submit();
    const tol = { rtol: 1e-5, atol: 1e-6 };
    assertClose(new Float32Array(await readBuffer(gpu, H)), ref.swigluForward(gate, up), `h n=${n}`, tol);
    const want = ref.swigluBackward(dout, gate, up);
    assertClose(new Float32Array(await readBuffer(gpu, DG)), want.dgate, `dgate n=${n}`, tol);
    assertClose(new Float32Array(await readBuffer(gpu, DU)), want.dup, `dup n=${n}`, tol);
    for (const b of [...bufs, H, DG, DU]) b.destroy();
  }
});
