/**
 * `deno task compile`: builds dist/storyteller (and, with --all, dist/storyteller-<target> for every target Deno can
 * cross-compile to) with the kernels, configs, UI bundle and corpus generator embedded through imports, then runs
 * the host binary (`--version`, `configs list`) and fails unless it is storyteller. Offline builds point
 * DENORT_BIN at a local denort of this Deno version; when the base can be neither found nor downloaded, or is a
 * full deno (whose output runs as plain deno), this fails with that hint instead of Deno's stack trace.
 */

/** Deno's compile targets that storyteller releases. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "aarch64-apple-darwin",
  "x86_64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** npm packages a compiled binary must never carry (tests and benchmarks only). */
const DEV_ONLY = ["tokenizers", "playwright-core"];

export interface CompileOptions {
  /** Targets to build; empty = the host only (output dist/storyteller). */
  targets: string[];
  outDir: string;
  /** Skip type checking (the test does; `deno task compile` checks). */
  noCheck?: boolean;
  denortBin?: string;
  /** Run the host binary afterwards and fail unless it is storyteller (the task does; a stand-in base cannot). */
  verify?: boolean;
}

export interface CompileResult {
  target: string;
  output: string;
  /** Deno's "Embedded Files" report, colors removed. */
  embedded: string;
  bytes: number;
}

/** A compile failure with the hint that fixes it. */
export class CompileError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = "CompileError";
  }
}

/** The command the README gives for an offline build. */
const OFFLINE_COMMAND = (version: string) => `DENORT_BIN=/path/to/denort npx -y deno@${version} task compile`;

const DENORT_HINT = (version: string) =>
  `download denort-<target>.zip of Deno ${version} where the network allows it (https://dl.deno.land/release/` +
  `v${version}/denort-x86_64-unknown-linux-gnu.zip), unzip it, and run ${OFFLINE_COMMAND(version)}`;

/** Output of `binary args`, or the reason it could not run. */
async function runBuilt(binary: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(binary, {
      args,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const dec = new TextDecoder();
    return { ok: out.success, text: stripAnsi(dec.decode(out.stdout) + dec.decode(out.stderr)).trim() };
  } catch (err) {
    return { ok: false, text: (err as Error).message };
  }
}

/**
 * Runs the built host binary: `--version` must print "storyteller <version>" and `configs list` the embedded tiny
 * config. Throws a CompileError saying what ran instead (a full deno as DENORT_BIN gives a binary that is deno).
 */
export async function verifyBinary(output: string): Promise<void> {
  const version = await runBuilt(output, ["--version"]);
  const first = (s: string) => JSON.stringify(s.split("\n")[0].slice(0, 120));
  const hint = `DENORT_BIN must be denort, Deno's runtime-only binary (denort-<target>.zip of Deno ` +
    `${Deno.version.deno}), not a full deno; then run ${OFFLINE_COMMAND(Deno.version.deno)}`;
  if (!version.ok || !/^storyteller \d+\.\d+\.\d+/.test(version.text)) {
    const what = /^deno \d/.test(version.text) ? " (that is Deno itself, not storyteller)" : "";
    throw new CompileError(
      `Cannot use ${output}: it was built but is not storyteller — '${output} --version' printed ` +
        `${version.text ? first(version.text) : "nothing"}${what}`,
      hint,
    );
  }
  const configs = await runBuilt(output, ["configs", "list"]);
  if (!configs.ok || !/^tiny /m.test(configs.text)) {
    throw new CompileError(
      `Cannot use ${output}: '${output} configs list' failed or lacks the embedded configs: ${
        first(configs.text)
      }`,
      hint,
    );
  }
}

/** Explains Deno's compile stderr when it failed for lack of the denort base; undefined for other failures. */
export function explainDenortFailure(stderr: string): string | undefined {
  if (/dl\.deno\.land|denort|dns error|error sending request|failed to lookup address/i.test(stderr)) {
    return "Cannot compile: the denort base binary could not be downloaded from Deno's download host";
  }
  return undefined;
}

function hostTarget(): string {
  const arch = Deno.build.arch;
  switch (Deno.build.os) {
    case "linux":
      return `${arch}-unknown-linux-gnu`;
    case "darwin":
      return `${arch}-apple-darwin`;
    case "windows":
      return `${arch}-pc-windows-msvc`;
    default:
      return `${arch}-unknown-${Deno.build.os}`;
  }
}

// deno-lint-ignore no-control-regex -- Deno colors its report even with NO_COLOR in some versions
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** Compiles main.ts once per target; throws CompileError with a hint on the failures a user can fix. */
export async function compile(opts: CompileOptions): Promise<CompileResult[]> {
  const root = new URL("..", import.meta.url).pathname;
  if (opts.denortBin !== undefined) {
    const stat = await Deno.stat(opts.denortBin).catch(() => null);
    if (!stat?.isFile) {
      throw new CompileError(
        `Cannot compile: DENORT_BIN=${opts.denortBin} is not a file`,
        DENORT_HINT(Deno.version.deno),
      );
    }
    const foreign = opts.targets.filter((t) => t !== hostTarget());
    if (foreign.length > 0) {
      throw new CompileError(
        `Cannot compile for ${foreign.join(", ")} with DENORT_BIN: one denort serves one target`,
        `build the host target only (no --all), or unset DENORT_BIN where dl.deno.land is reachable`,
      );
    }
  }
  await Deno.mkdir(opts.outDir, { recursive: true });
  const targets = opts.targets.length > 0 ? opts.targets : [hostTarget()];
  const results: CompileResult[] = [];
  for (const target of targets) {
    const name = opts.targets.length > 0 ? `storyteller-${target}` : "storyteller";
    const output = `${opts.outDir}/${name}${target.includes("windows") ? ".exe" : ""}`;
    const args = [
      "compile",
      "--allow-all",
      // Resolve npm from the global cache and embed only what main.ts imports: no test-only packages.
      "--node-modules-dir=none",
      "--exclude-unused-npm",
      ...(opts.noCheck ? ["--no-check"] : []),
      ...(opts.targets.length > 0 ? ["--target", target] : []),
      "--output",
      output,
      `${root}main.ts`,
    ];
    const env: Record<string, string> = { NO_COLOR: "1" };
    if (opts.denortBin) env.DENORT_BIN = opts.denortBin;
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      env,
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const text = stripAnsi(new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr));
    if (!out.success) {
      const denort = explainDenortFailure(text);
      if (denort) throw new CompileError(`${denort} (target ${target})`, DENORT_HINT(Deno.version.deno));
      throw new CompileError(`Cannot compile for ${target}: deno compile failed\n${text.trim()}`);
    }
    const embedded = text.slice(Math.max(0, text.indexOf("Embedded Files"))).trim();
    for (const pkg of DEV_ONLY) {
      if (new RegExp(`\\b${pkg}/`).test(embedded)) {
        throw new CompileError(`Cannot ship ${output}: the dev-only npm package ${pkg} was embedded`);
      }
    }
    if (opts.verify && target === hostTarget()) await verifyBinary(output);
    results.push({ target, output, embedded, bytes: (await Deno.stat(output)).size });
  }
  return results;
}

if (import.meta.main) {
  const all = Deno.args.includes("--all");
  const noCheck = Deno.args.includes("--no-check");
  const unknown = Deno.args.filter((a) => a !== "--all" && a !== "--no-check");
  if (unknown.length > 0) {
    console.error(`error: Cannot compile: unknown argument ${unknown[0]}\nhint: use --all and/or --no-check`);
    Deno.exit(2);
  }
  try {
    const results = await compile({
      targets: all ? [...TARGETS] : [],
      outDir: new URL("../dist", import.meta.url).pathname,
      noCheck,
      denortBin: Deno.env.get("DENORT_BIN") || undefined,
      verify: true,
    });
    for (const r of results) {
      console.log(r.embedded);
      const checked = r.target === hostTarget() ? ", checked: --version and configs list run" : "";
      console.log(`\nbuilt ${r.output} (${(r.bytes / 2 ** 20).toFixed(1)} MiB) for ${r.target}${checked}`);
    }
  } catch (err) {
    if (!(err instanceof CompileError)) throw err;
    console.error(`error: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ""}`);
    Deno.exit(1);
  }
}
