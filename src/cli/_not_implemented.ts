/** For commands a later issue delivers: say so and exit 2, never pretend. */
import { UsageError } from "../errors.ts";

/** Throws the "not implemented yet" usage error for `storyteller <name>`. */
export function notImplemented(name: string, issue: number): never {
  throw new UsageError(`Cannot run 'storyteller ${name}': not implemented yet (tracked in issue #${issue})`);
}
