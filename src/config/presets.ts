/** The configs shipped inside the program (imported as text so a compiled binary embeds them). */
import baseModel from "../../configs/base_model.yaml" with { type: "text" };
import moeModel from "../../configs/moe_model.yaml" with { type: "text" };
import tiny from "../../configs/tiny.yaml" with { type: "text" };

/** Embedded config files by name (the file name without `.yaml`). */
export const PRESETS: Readonly<Record<string, string>> = {
  base_model: baseModel,
  moe_model: moeModel,
  tiny,
};

/** The config `storyteller train` uses when none is given. */
export const DEFAULT_PRESET = "tiny";
