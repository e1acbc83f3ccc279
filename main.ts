/** storyteller entry point: parse argv, run the command, set the exit code. Nothing else lives here. */
import { run } from "./src/cli/mod.ts";

if (import.meta.main) {
  Deno.exitCode = await run(Deno.args);
}
