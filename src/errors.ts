/**
 * Error classes that decide the process exit code. Everything else that escapes a command is a runtime failure
 * (exit 1). Messages follow one grammar: "Cannot <action>: <what was seen>", with an optional hint line.
 */

/** A problem the user fixes by changing the command line, a config file or an input file (exit 2). */
export class UsageError extends Error {
  /** One line that tells the user what to do, printed after the message. */
  hint?: string;
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = "UsageError";
    this.hint = options?.hint;
  }
}

/** A config value that is unknown, mistyped or out of range; carries where it was written. */
export class ConfigError extends UsageError {
  constructor(
    message: string,
    readonly where: { file?: string; line?: number; col?: number; key?: string },
    options?: { hint?: string },
  ) {
    super(formatWhere(where) + message, options);
    this.name = "ConfigError";
  }
}

function formatWhere(w: { file?: string; line?: number; col?: number; key?: string }): string {
  const pos = w.file ? `${w.file}${w.line ? `:${w.line}:${w.col ?? 1}` : ""}: ` : "";
  return pos + (w.key ? `${w.key}: ` : "");
}

/** A runtime failure (exit 1) with a fix the user can apply: shown as the message plus a hint line. */
export class FixableError extends Error {
  constructor(message: string, readonly hint: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FixableError";
  }
}

/** Exit code for an error escaping a command: 2 for usage and config problems, 1 for everything else. */
export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? 2 : 1;
}

/** The one-line (plus hint) text shown to the user for an error. */
export function describeError(err: unknown): string {
  if (err instanceof UsageError || err instanceof FixableError) {
    return err.hint ? `${err.message}\nhint: ${err.hint}` : err.message;
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
