/**
 * A checkpoint's `state.json`: the TrainState type and its field-by-field check. A resume trusts nothing in the
 * file: every field is checked before anything is read or written on its account (the run name picks the directory
 * that is written and pruned). Not the tensors: see checkpoint.ts.
 */
import { type Config, RUN_NAME_HINT, runNameProblem } from "../config/mod.ts";
import type { BatchSamplerState } from "../data/mod.ts";
import { UsageError } from "../errors.ts";
import type { AmpState } from "./amp.ts";

/** Everything besides tensors that a resumed run needs. */
export interface TrainState {
  /** Optimizer steps completed. */
  step: number;
  config: Config;
  sampler: BatchSamplerState;
  runName: string;
  /** Tracking run id, so a resumed run continues the same tracked run. */
  runId?: string;
  /** Per-step loss sums of the last log window, carried so logs continue smoothly. */
  extra?: Record<string, unknown>;
  /** AMP runs: the loss scale, its clean-step count and the skipped-steps total, so a resume continues them. */
  amp?: AmpState;
}

/** The most steps a state.json may record: the largest training.max_steps the config schema accepts. */
const MAX_STATE_STEP = 1e9;

const HINT =
  "the file is damaged or was not written by storyteller train; resume from another step_<N> directory";

/**
 * Reads `<checkpoint>/state.json` and checks every field (UsageError naming the file and the field otherwise).
 *
 * @example
 * ```ts ignore
 * const state = await readTrainState("checkpoints/tiny-1/step_500");
 * console.log(state.step); // 500
 * ```
 */
export async function readTrainState(checkpoint: string): Promise<TrainState> {
  const file = `${checkpoint}/state.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new UsageError(`Cannot resume from ${checkpoint}: no state.json there`, {
      hint: "pass a step_<N> directory written by storyteller train, or --resume alone for the latest",
      cause: err,
    });
  }
  return parseTrainState(text, file);
}

/**
 * Parses state.json text and checks every field; `file` names it in errors ("Cannot resume from <file>: field
 * 'step' is "abc", expected …"). Unknown fields are ignored, so older builds read newer checkpoints.
 */
export function parseTrainState(text: string, file: string): TrainState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`Cannot resume from ${file}: it is not valid JSON (${(err as Error).message})`, {
      hint: HINT,
    });
  }
  const fail = (field: string, value: unknown, expected: string, hint = HINT): never => {
    throw new UsageError(
      `Cannot resume from ${file}: field '${field}' is ${show(value)}, expected ${expected}`,
      {
        hint,
      },
    );
  };
  if (!isObject(json)) return fail("(top level)", json, "an object");
  const s = json;
  const count = (field: string, v: unknown, max: number) => {
    if (!(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max)) {
      fail(field, v, `an integer from 0 to ${max}`);
    }
    return v as number;
  };
  const step = count("step", s.step, MAX_STATE_STEP);
  if (!isObject(s.config)) fail("config", s.config, "the resolved config (an object)");
  if (typeof s.runName !== "string") fail("runName", s.runName, "a run name (a string)");
  const nameWrong = runNameProblem(s.runName as string);
  if (nameWrong) fail("runName", s.runName, `a run name, but it ${nameWrong}`, RUN_NAME_HINT);
  // The tracking store keeps a run under a directory named by its id, so it gets the same rule as the name.
  if (s.runId !== undefined && (typeof s.runId !== "string" || runNameProblem(s.runId))) {
    fail("runId", s.runId, "a tracking run id such as 9c0960e5d6f54a2c8a2f2b4b8d1e0f3a");
  }
  if (s.extra !== undefined && !isObject(s.extra)) fail("extra", s.extra, "an object");
  const state: TrainState = {
    step,
    config: s.config as unknown as Config,
    sampler: checkSampler(s.sampler, fail, count),
    runName: s.runName as string,
  };
  if (s.runId !== undefined) state.runId = s.runId as string;
  if (s.extra !== undefined) state.extra = s.extra as Record<string, unknown>;
  if (s.amp !== undefined) state.amp = checkAmp(s.amp, fail);
  return state;
}

type Fail = (field: string, value: unknown, expected: string) => never;

/** The batch sampler's state: `{seed, step, rng: [4 × uint32, not all 0]}` (an all-zero xoshiro state is stuck). */
function checkSampler(
  v: unknown,
  fail: Fail,
  count: (field: string, v: unknown, max: number) => number,
): BatchSamplerState {
  if (!isObject(v)) return fail("sampler", v, "the batch sampler's state {seed, step, rng}");
  const seed = count("sampler.seed", v.seed, 2 ** 32 - 1);
  const step = count("sampler.step", v.step, Number.MAX_SAFE_INTEGER);
  const rng = v.rng;
  const uint32 = (x: unknown) => Number.isInteger(x) && (x as number) >= 0 && (x as number) < 2 ** 32;
  if (!Array.isArray(rng) || rng.length !== 4 || !rng.every(uint32) || rng.every((x) => x === 0)) {
    fail("sampler.rng", rng, "4 integers from 0 to 4294967295, not all 0");
  }
  const [a, b, c, d] = rng as number[];
  return { seed, step, rng: [a, b, c, d] };
}

/** The AMP loss-scale state saveCheckpoint writes. */
function checkAmp(v: unknown, fail: Fail): AmpState {
  const expected =
    "the loss-scale state {dtype: float16|bfloat16, lossScale > 0, cleanSteps ≥ 0, skippedSteps ≥ 0}";
  if (!isObject(v)) return fail("amp", v, expected);
  if (v.dtype !== "float16" && v.dtype !== "bfloat16") fail("amp.dtype", v.dtype, "float16 or bfloat16");
  const scale = v.lossScale;
  if (typeof scale !== "number" || !(scale > 0) || !Number.isFinite(scale)) {
    fail("amp.lossScale", scale, "a finite number above 0");
  }
  for (const k of ["cleanSteps", "skippedSteps"]) {
    if (!(Number.isSafeInteger(v[k]) && (v[k] as number) >= 0)) {
      fail(`amp.${k}`, v[k], "a non-negative integer");
    }
  }
  return {
    dtype: v.dtype as AmpState["dtype"],
    lossScale: scale as number,
    cleanSteps: v.cleanSteps as number,
    skippedSteps: v.skippedSteps as number,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value as JSON, cut short: a damaged file may hold anything. */
function show(v: unknown): string {
  const text = v === undefined ? "missing" : JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
