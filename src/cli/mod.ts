/**
 * The command-line program: builds the commander tree from one file per subcommand and maps errors to exit codes
 * (0 ok, 1 runtime failure, 2 usage or config error). Not the place for command logic.
 */
import { Command, CommanderError } from "commander";
import { describeError, exitCodeOf } from "../errors.ts";
import { debugLevel, printError } from "./output.ts";
import { versionText } from "./version.ts";
import { configsCommand } from "./configs.ts";
import { trainCommand } from "./train.ts";
import { gpuCommand } from "./gpu.ts";
import { uiCommand } from "./ui.ts";
import { serverCommand } from "./server.ts";
import { serveCommand } from "./serve.ts";
import { generateCommand } from "./generate.ts";
import { exportCommand } from "./export.ts";
import { importCommand } from "./import.ts";
import { runsCommand } from "./runs.ts";
import { experimentsCommand } from "./experiments.ts";
import { modelsCommand } from "./models.ts";
import { tokenizerCommand } from "./tokenizer.ts";
import { benchCommand } from "./bench.ts";
import { tuneCommand } from "./tune.ts";

/** Builds the whole command tree; exported so tests can check every command's help. */
export function buildProgram(): Command {
  const program = new Command("storyteller")
    .description("Train, track and serve small story-writing language models on any GPU.")
    .option("-V, --version", "print the version, the Deno/V8 versions and the WebGPU adapter")
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions();
  for (
    const cmd of [
      trainCommand(),
      uiCommand(),
      serverCommand(),
      serveCommand(),
      generateCommand(),
      exportCommand(),
      importCommand(),
      runsCommand(),
      experimentsCommand(),
      modelsCommand(),
      tokenizerCommand(),
      benchCommand(),
      tuneCommand(),
      configsCommand(),
      gpuCommand(),
    ]
  ) program.addCommand(cmd);
  exitOverrideAll(program);
  return program;
}

function exitOverrideAll(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) exitOverrideAll(sub);
}

/** Runs the program on argv and returns the exit code; never throws. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 2;
    }
    if (argv.length === 1 && (argv[0] === "-V" || argv[0] === "--version")) {
      console.log(await versionText());
      return 0;
    }
    await program.parseAsync(argv, { from: "user" });
    // A command may set a non-zero code without failing (e.g. 130 after Ctrl-C with a checkpoint written).
    return typeof Deno.exitCode === "number" ? Deno.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message (or the help text).
      return err.exitCode === 0 ? 0 : 2;
    }
    printError(describeError(err));
    if (debugLevel() > 0 && err instanceof Error && err.stack) console.error(err.stack);
    return exitCodeOf(err);
  }
}
