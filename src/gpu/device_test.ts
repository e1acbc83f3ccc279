import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { gpuTest } from "./testing.ts";

const linuxOnly = { unless: () => Deno.build.os === "linux" ? null : "reads /proc/self/maps (Linux)" };

gpuTest(
  "opening the GPU asks wgpu for the compute backends only: no OpenGL stack (EGL, gbm) beside Vulkan",
  linuxOnly,
  async () => {
    // A child process without DENO_WEBGPU_BACKEND, as a user starts storyteller; the test task itself sets it.
    const device = fileURLToPath(new URL("./device.ts", import.meta.url));
    const code = `const { openGpu, closeGpu } = await import(${JSON.stringify(device)});
const gpu = await openGpu();
const maps = Deno.readTextFileSync("/proc/self/maps");
console.log(JSON.stringify({ backend: Deno.env.get("DENO_WEBGPU_BACKEND"), egl: /libEGL|libgbm|_dri\\.so/.test(maps) }));
await closeGpu(gpu);`;
    const env = { ...Deno.env.toObject() };
    delete env.DENO_WEBGPU_BACKEND;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(text.split("\n").at(-1)!), { backend: "vulkan,metal,dx12", egl: false });
  },
);
