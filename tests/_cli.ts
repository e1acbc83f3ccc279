/** The CLI run in-process for the end-to-end tests: exit code, stdout and stderr captured with colors removed. */
import { run } from "../src/cli/mod.ts";

/** Runs `storyteller <argv>` in this process with console.log/error captured; resets Deno.exitCode after. */
export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await run(argv);
    // deno-lint-ignore no-control-regex
    const plain = (lines: string[]) => lines.join("\n").replace(/\x1b\[[0-9;]*m/g, "");
    return { code, out: plain(out), err: plain(err) };
  } finally {
    console.log = log;
    console.error = error;
    Deno.exitCode = 0;
  }
}
