/** Test helpers for the run tracker: what train() hands RunTracker.start, without a GPU or prepared data. */
import type { PreparedData } from "../data/mod.ts";
import type { Gpu } from "../gpu/mod.ts";
import type { StartInfo } from "./trainer.ts";

/** One split of builtin:stories(4000, seed 1) as prepareData describes it. */
export function builtinSplit(name: string, digest: string, docs: number, tokens: number) {
  return {
    name,
    digest,
    sources: [{ kind: "builtin", stories: 4000, seed: 1, generator: 1 }],
    holdOut: 0.05,
    docs,
    tokens,
  };
}

/** The training and validation splits of builtin:stories(4000, seed 1), 5 % held out. */
export const BUILTIN_DATASETS = {
  training: builtinSplit("builtin:stories", "0a1b2c3d", 3800, 900000),
  validation: builtinSplit("builtin:stories (val_fraction 0.05)", "4e5f6a7b", 200, 47000),
};

/** The StartInfo of run `name` with checkpoints under `<dir>/ckpt/<name>`, a fake adapter and the builtin data. */
export function fakeStartInfo(name: string, dir: string): StartInfo {
  return {
    runName: name,
    ckptDir: `${dir}/ckpt/${name}`,
    startStep: 0,
    paramCount: 10,
    gpu: { summary: { description: "fake", isFallback: true }, hasF16: false } as unknown as Gpu,
    data: {
      stats: { sources: "x", datasets: BUILTIN_DATASETS },
      tokenizer: { vocabSize: 300 },
    } as unknown as PreparedData,
  };
}
