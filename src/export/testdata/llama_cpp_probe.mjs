// Runs a GGUF file in the real llama.cpp (node-llama-cpp's prebuilt CPU binaries) under Node and prints JSON: the
// prompt's token ids as llama.cpp tokenizes it, a greedy continuation decoded step by step with llama.cpp's KV cache
// (argmax of its logits), the text it detokenizes to, and the raw logits of every position of prompt + continuation.
// With a JSON array of extra texts it also prints how llama.cpp tokenizes each (`textIds`).
// Usage: node llama_cpp_probe.mjs <node_modules dir> <model.gguf> <prompt> <steps> [texts.json]
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, modelPath, prompt, stepsArg, textsArg] = process.argv.slice(2);
const { getLlama, LlamaLogLevel } = await import(
  pathToFileURL(join(modules, "node-llama-cpp", "dist", "index.js")).href
);
const llama = await getLlama({
  gpu: false,
  build: "never",
  usePrebuiltBinaries: true,
  logLevel: LlamaLogLevel.error,
});
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const vocab = model.fileInfo.metadata.llama.vocab_size;
const contextSize = model.trainContextSize;
// f32 K/V cache (llama.cpp defaults to f16) and no flash attention, so logits can be compared at 1e-3.
const context = await model.createContext({
  contextSize,
  batchSize: contextSize,
  sequences: 1,
  threads: 1,
  flashAttention: false,
  experimentalKvCacheKeyType: "F32",
  experimentalKvCacheValueType: "F32",
});
const sequence = context.getSequence();

const rowOf = (logits) => {
  const row = new Array(vocab).fill(0);
  for (const [id, v] of logits) row[id] = v;
  return row;
};
const argmax = (row) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);
const withLogits = (id) => [id, { generateNext: { logits: true } }];

const promptIds = Array.from(model.tokenize(prompt, false));
const generated = [];
let last = await sequence.controlledEvaluate([...promptIds.slice(0, -1), withLogits(promptIds.at(-1))]);
for (let s = 0; s < Number(stepsArg) && promptIds.length + generated.length < contextSize; s++) {
  const next = argmax(rowOf(last.at(-1).next.logits));
  generated.push(next);
  if (model.isSpecialToken(next)) break;
  last = await sequence.controlledEvaluate([withLogits(next)]);
}
await sequence.clearHistory();
const all = [...promptIds, ...generated];
const outs = await sequence.controlledEvaluate(all.map(withLogits));
const logits = outs.map((o) => rowOf(o.next.logits));
const text = model.detokenize(generated, false);
const textIds = JSON.parse(textsArg ?? "[]").map((t) => Array.from(model.tokenize(t, false)));
console.log(JSON.stringify({ promptIds, generated, text, textIds, logits, vocab }));
await context.dispose();
await model.dispose();
await llama.dispose();
