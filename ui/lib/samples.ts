/**
 * Story samples logged by training: `samples/step_0000300.txt` (one greedy continuation per evaluation) or JSON
 * lines. Finds the step of a sample file and reads JSON-lines samples; the Samples section fetches the files.
 */

/** A sample file under samples/ with the step its name carries. */
export interface SampleFile {
  path: string;
  step: number;
}

const STEP = /(?:^|\/)step_?(\d+)\.(?:txt|jsonl)$/i;

/** The step in a sample file's name (`samples/step_0000300.txt` → 300); undefined for other names. */
export function sampleStep(path: string): number | undefined {
  const m = STEP.exec(path);
  return m ? Number(m[1]) : undefined;
}

/** The sample files among artifact paths, by step (oldest first). */
export function sampleFiles(paths: string[]): SampleFile[] {
  const out: SampleFile[] = [];
  for (const path of paths) {
    const step = sampleStep(path);
    if (step !== undefined) out.push({ path, step });
  }
  return out.sort((a, b) => a.step - b.step || (a.path < b.path ? -1 : 1));
}

/**
 * At most `max` files, always the first and the last, the rest evenly spaced: a run with 200 evaluations still
 * shows how its stories changed without fetching 200 files.
 */
export function spreadSamples<T>(files: T[], max: number): T[] {
  if (files.length <= max) return files;
  if (max <= 1) return files.slice(-1);
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(files[Math.round((i * (files.length - 1)) / (max - 1))]);
  return out;
}

/** Story samples logged as JSON lines (`{"step":…, "prompt":…, "text"|"sample"|"completion":…}`); null if not. */
export function parseSamples(text: string): { meta: string; text: string }[] | null {
  const out: { meta: string; text: string }[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line);
      const body = j.text ?? j.sample ?? j.completion ?? j.output;
      if (typeof body !== "string") return null;
      const meta = Object.entries(j).filter(([k, v]) =>
        !["text", "sample", "completion", "output"].includes(k) && typeof v !== "object"
      )
        .map(([k, v]) => `${k}: ${v}`).join(" · ");
      out.push({ meta, text: (j.prompt && !body.startsWith(j.prompt) ? j.prompt : "") + body });
    } catch {
      return null;
    }
  }
  return out;
}
