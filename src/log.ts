/**
 * The leaf logger every layer may import: `STORYTELLER_DEBUG` levels and the "error:"/"warning:" lines on stderr.
 * It imports nothing, so src/gpu and src/serve need not reach up into src/cli for it. Not terminal styling of
 * stdout (src/cli/output.ts).
 */

const useErrColor = !Deno.noColor && Deno.stderr.isTerminal();

function paintErr(code: number, s: string): string {
  return useErrColor ? `\x1b[${code}m${s}\x1b[0m` : s;
}

/** Prints "error: <message>" to stderr, red on a TTY. */
export function printError(message: string): void {
  console.error(`${paintErr(31, "error:")} ${message}`);
}

/** Prints "warning: <message>" to stderr, yellow on a TTY. */
export function printWarning(message: string): void {
  console.error(`${paintErr(33, "warning:")} ${message}`);
}

/** STORYTELLER_DEBUG level (0 when unset): 1 step timings, 2 dispatches, 3 generated pipelines. */
export function debugLevel(): number {
  try {
    const v = Deno.env.get("STORYTELLER_DEBUG");
    if (!v) return 0;
    const n = Number(v);
    return Number.isFinite(n) ? n : 1;
  } catch {
    return 0;
  }
}
