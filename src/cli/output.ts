/** Terminal output helpers: colors only on a TTY and never with NO_COLOR; errors go to stderr. */

const useColor = !Deno.noColor && Deno.stdout.isTerminal();
const useErrColor = !Deno.noColor && Deno.stderr.isTerminal();

function paint(code: number, s: string, on: boolean): string {
  return on ? `\x1b[${code}m${s}\x1b[0m` : s;
}

export const bold = (s: string): string => paint(1, s, useColor);
export const dim = (s: string): string => paint(2, s, useColor);
export const green = (s: string): string => paint(32, s, useColor);

/** Prints "error: <message>" to stderr, red on a TTY. */
export function printError(message: string): void {
  console.error(`${paint(31, "error:", useErrColor)} ${message}`);
}

/** Prints "warning: <message>" to stderr, yellow on a TTY. */
export function printWarning(message: string): void {
  console.error(`${paint(33, "warning:", useErrColor)} ${message}`);
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
