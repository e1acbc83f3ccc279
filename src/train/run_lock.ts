/**
 * The lock a training holds on its run's checkpoint directory, so that two trainings of one run (say `--resume`
 * twice at once) cannot both write checkpoints and log into the same tracked run. An flock on `<run dir>/.lock`:
 * the OS drops it when the process dies, so a crash never leaves a stale lock behind.
 */
import { FixableError } from "../errors.ts";

/** A held run lock; `release` (or the end of the process) frees it. */
export interface RunLock {
  readonly path: string;
  release(): void;
}

/**
 * Takes the exclusive lock on run directory `dir` (created if missing) without waiting; a FixableError naming
 * the holder's process when another training holds it.
 *
 * @example
 * ```ts ignore
 * const lock = await lockRunDir("checkpoints/tiny-1", "tiny-1");
 * try {
 *   // write checkpoints
 * } finally {
 *   lock.release();
 * }
 * ```
 */
export async function lockRunDir(dir: string, runName: string): Promise<RunLock> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/.lock`;
  // Never deleted: a holder that removed it would let the next trainer lock a new file while a third still
  // waits on the old one.
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    if (!await file.tryLock(true)) {
      const holder = (await Deno.readTextFile(path).catch(() => "")).trim();
      throw new FixableError(
        `Cannot train run '${runName}': another training of it${
          /^\d+$/.test(holder) ? ` (process ${holder})` : ""
        } holds ${path}`,
        "wait for it to finish or stop it, or train under another name (--set training.mlflow_run_name=<name>)",
      );
    }
    // The holder's pid, for the message above; the lock is the flock, not this text.
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (err) {
    file.close();
    throw err;
  }
  return { path, release: () => file.close() };
}
