/** Option parsers shared by several commands. */
import { UsageError } from "../errors.ts";

/** Collects a repeatable option (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses a whole number option, failing with the option's name. */
export function intOption(name: string, min = 0): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new UsageError(`Cannot parse ${name}: expected an integer ≥ ${min}, got '${value}'`);
    }
    return n;
  };
}

/** Parses a number option within [min, max], failing with the option's name. */
export function numberOption(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new UsageError(`Cannot parse ${name}: expected a number from ${min} to ${max}, got '${value}'`);
    }
    return n;
  };
}

/** Parses a seed: an integer from 0 to 2^53 − 1 (what a JSON or JavaScript number holds exactly). */
export function seedOption(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) {
      throw new UsageError(
        `Cannot parse ${name}: expected an integer from 0 to ${Number.MAX_SAFE_INTEGER} (2^53 − 1), got '${value}'`,
      );
    }
    return n;
  };
}
