/** Terminal output helpers: colors only on a TTY and never with NO_COLOR; errors go to stderr. */

const useColor = !Deno.noColor && Deno.stdout.isTerminal();

function paint(code: number, s: string, on: boolean): string {
  return on ? `\x1b[${code}m${s}\x1b[0m` : s;
}

export const bold = (s: string): string => paint(1, s, useColor);
export const dim = (s: string): string => paint(2, s, useColor);
export const green = (s: string): string => paint(32, s, useColor);

export { debugLevel, printError, printWarning } from "../log.ts";
