/** `storyteller configs`: list and print the configs embedded in the program, so a binary user can start from one. */
import { Command } from "commander";
import { DEFAULT_PRESET, loadConfig, PRESETS } from "../config/mod.ts";
import { activeParamCount, buildLayout } from "../model/mod.ts";
import { UsageError } from "../errors.ts";
import { bold, dim } from "./output.ts";

/** The first comment block of an embedded config: its one-line description. */
export function presetDescription(text: string): string {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("#")) break;
    lines.push(line.replace(/^#\s?/, ""));
  }
  const joined = lines.join(" ").trim();
  const sentence = joined.match(/^.*?[.:](\s|$)/);
  return (sentence ? sentence[0] : joined).trim().replace(/[.:]$/, "");
}

/** One row per embedded config: name, parameter counts and description. */
export async function listPresets(): Promise<string[]> {
  const rows: string[] = [];
  for (const name of Object.keys(PRESETS).sort()) {
    const { config } = await loadConfig(name, []);
    const total = buildLayout(config.model).count;
    const active = activeParamCount(config.model);
    const params = active !== total
      ? `${fmtParams(total)} params, ${fmtParams(active)} active`
      : `${fmtParams(total)} params`;
    const marker = name === DEFAULT_PRESET ? " (default)" : "";
    rows.push(
      `${bold(name.padEnd(12))} ${params.padEnd(30)} ${dim(presetDescription(PRESETS[name]) + marker)}`,
    );
  }
  return rows;
}

function fmtParams(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}K`;
}

export function configsCommand(): Command {
  const cmd = new Command("configs").description("list and print the configs embedded in the program");
  cmd.command("list")
    .description("the embedded configs with their parameter counts")
    .action(async () => {
      for (const row of await listPresets()) console.log(row);
    });
  cmd.command("show")
    .description("print an embedded config's YAML (save it, edit it, pass it to --config)")
    .argument("<name>", `one of: ${Object.keys(PRESETS).sort().join(", ")}`)
    .action((name: string) => {
      const text = PRESETS[name.replace(/\.ya?ml$/, "")];
      if (text === undefined) {
        throw new UsageError(`Cannot show config '${name}': no embedded config has that name`, {
          hint: `embedded configs: ${Object.keys(PRESETS).sort().join(", ")}`,
        });
      }
      Deno.stdout.writeSync(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
    });
  return cmd;
}
