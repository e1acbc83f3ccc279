/** `storyteller gpu`: adapter, features, limits and a matmul self-test. */
import { Command } from "commander";
import { notImplemented } from "./_not_implemented.ts";

export function gpuCommand(): Command {
  return new Command("gpu")
    .description("describe the WebGPU adapter and run a 2-second matmul self-test")
    .action(() => notImplemented("gpu", 2));
}
