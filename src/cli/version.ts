/** `storyteller --version`: the program version, the Deno/V8/TypeScript it runs on, and the WebGPU adapter. */
import { adapterSummary } from "../gpu/mod.ts";
import { VERSION } from "../version.ts";

/** The lines `--version` prints; the adapter line says so when there is none rather than failing. */
export async function versionText(): Promise<string> {
  let adapter: string;
  try {
    const s = await adapterSummary();
    adapter = s
      ? `${s.description}${s.isFallback ? " (CPU fallback)" : ""}; ${s.features.length} features`
      : "none found (install a Vulkan/Metal/DX12 driver, or mesa-vulkan-drivers on Linux)";
  } catch (err) {
    adapter = `unavailable (${err instanceof Error ? err.message : String(err)})`;
  }
  return [
    `storyteller ${VERSION}`,
    `deno ${Deno.version.deno}, v8 ${Deno.version.v8}, typescript ${Deno.version.typescript}`,
    `${Deno.build.os}/${Deno.build.arch}; WebGPU adapter: ${adapter}`,
  ].join("\n");
}
