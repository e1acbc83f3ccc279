/** The model: parameter layout table, sizes, and (later) the dense and MoE blocks. */
export {
  activeParamCount,
  buildLayout,
  estimateTrainingMemory,
  type Layout,
  type ModelDims,
  modelDims,
  moeLayerSet,
  PARAM_ALIGN,
  type ParamEntry,
} from "./layout.ts";
