/**
 * Export of a trained model to the formats other runtimes load: GGUF for llama.cpp (Ollama, LM Studio,
 * llama-server) and a Hugging Face transformers directory. `exportModel` is the one door the CLI uses.
 */
export { type ExportFormat, exportModel, type ExportOptions, type ExportResult } from "./export.ts";
export { type ExportModel, ggufContent, ggufVocab, TOKEN_TYPE } from "./gguf.ts";
export {
  decodeGguf,
  encodeGguf,
  GGML_TYPE,
  type GgufFile,
  type GgufTensor,
  type GgufValue,
} from "./gguf_format.ts";
export { hfConfig, hfFiles, hfTensors, modelCard } from "./hf.ts";
export { type ExportSource, loadExportSource } from "./source.ts";
export { modelTensors, permuteRopeRows } from "./tensors.ts";
export { importHf, type ImportOptions, type ImportResult, modelConfigFromHf } from "./import.ts";
