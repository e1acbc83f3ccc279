/** Maps tracking errors a user fixes on the command line (bad filter, unknown run…) to UsageError (exit 2). */
import { UsageError } from "../errors.ts";
import { TrackingError } from "./errors.ts";

const USER_FIXABLE = new Set([
  "INVALID_PARAMETER_VALUE",
  "RESOURCE_DOES_NOT_EXIST",
  "RESOURCE_ALREADY_EXISTS",
  "BAD_REQUEST",
]);

/** Wraps a commander action so user-fixable TrackingErrors exit with code 2 and keep their hint. */
export function userErrors<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof TrackingError && USER_FIXABLE.has(err.code)) {
        throw new UsageError(err.message, { hint: err.hint, cause: err });
      }
      throw err;
    }
  };
}
