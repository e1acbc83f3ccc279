/** Config: typed defaults, YAML files with positioned errors, `--set` overrides, embedded presets. */
export type { Config, DataConfig, ModelConfig, MoeConfig, TrainingConfig } from "./types.ts";
export {
  applySet,
  defaultConfig,
  loadConfig,
  parseConfig,
  type ResolvedConfig,
  validateConfig,
} from "./load.ts";
export { SCHEMA } from "./schema.ts";
export { RUN_NAME_HINT, runNameProblem } from "./run_name.ts";
export { DEFAULT_PRESET, PRESETS } from "./presets.ts";
export { flattenConfig } from "./flatten.ts";
