/**
 * A tracked run's staging directory, `<run dir>/staging`: the resolved config and the evaluation samples not yet
 * uploaded. It sits beside the checkpoints rather than in the temp dir, so that the samples of a killed training
 * wait there for its resume to upload them; it is removed once the run's files are delivered.
 */
import { basename, join } from "node:path";
import type { TrackingClient } from "../tracking/mod.ts";

/** The files a run stages for upload. */
export class Staging {
  constructor(readonly dir: string) {}

  get configFile(): string {
    return join(this.dir, "config.yaml");
  }
  get samplesDir(): string {
    return join(this.dir, "samples");
  }

  /** Creates the directory (keeping samples a killed training left) and writes the config. */
  async open(configYaml: string): Promise<void> {
    await Deno.mkdir(this.samplesDir, { recursive: true });
    await Deno.writeTextFile(this.configFile, configYaml);
  }

  /** Stages the sample of the evaluation at `step` (synchronously: it is on disk before the next step). */
  writeSample(step: number, text: string): void {
    Deno.mkdirSync(this.samplesDir, { recursive: true });
    Deno.writeTextFileSync(join(this.samplesDir, sampleFileName(step)), text + "\n");
  }

  /** The staged samples' paths, by step. */
  async samples(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(this.samplesDir)) {
        if (e.isFile) out.push(join(this.samplesDir, e.name));
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out.sort();
  }

  /**
   * Uploads each staged sample to `samples/` of the run and deletes it once there; stops at the first failure and
   * returns it (the rest stays staged for a later try).
   */
  async uploadSamples(
    client: TrackingClient,
    runId: string,
  ): Promise<{ path: string; error: unknown } | undefined> {
    for (const file of await this.samples()) {
      try {
        await client.logArtifact(runId, file, "samples");
        await Deno.remove(file);
      } catch (error) {
        return { path: `samples/${basename(file)}`, error };
      }
    }
    return undefined;
  }

  async remove(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** `samples/step_0000300.txt`: zero-padded so listings sort by step. */
export function sampleFileName(step: number): string {
  return `step_${String(step).padStart(7, "0")}.txt`;
}
