/**
 * What a run name may be: it names the run's directory under training.checkpoint_dir, so it must be one plain
 * directory name. Not the tracking store's rule: MLflow itself accepts any run name.
 */

/** The hint shown with a refused run name. */
export const RUN_NAME_HINT =
  "a run name is one directory name under training.checkpoint_dir: use one without '/', '\\' or NUL that is not '.' or '..'";

/**
 * Why `name` cannot be a run name, or undefined when it can.
 *
 * @example
 * ```ts
 * import { runNameProblem } from "./run_name.ts";
 * runNameProblem("tiny-1"); // undefined
 * runNameProblem("../../victim"); // "contains '/'"
 * ```
 */
export function runNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (name === "." || name === "..") return `is '${name}'`;
  if (name.includes("/")) return "contains '/'";
  if (name.includes("\\")) return "contains '\\'";
  if (name.includes("\0")) return "contains NUL";
  return undefined;
}
