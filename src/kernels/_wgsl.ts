/**
 * WGSL module composition: one shader module built from several .wgsl files, because WGSL has no #include. Used
 * where kernels share a core (kernels/matmul_tile.wgsl's tile loop behind four matmul modules); not a template engine.
 */

const DIRECTIVE = /^\s*(enable|requires|diagnostic)\b[^;{]*;\s*(\/\/.*)?$/;

/**
 * Joins WGSL parts into one module source: each part is a .wgsl file as written (a kernel's prelude — bindings, the
 * functions a shared core calls, entry points — and the shared cores), nothing is substituted. This is module
 * composition, not string templating: WGSL resolves module-scope names in any order, so the parts only meet by
 * name, and `override` constants still specialise each pipeline (the cache key stays (kernel, entry point,
 * constants)). Global directives (`enable f16;`), which WGSL allows only before the first declaration, move to the
 * front, each once. Order still matters to naga 29 (Deno's WebGPU), which can panic creating a pipeline when entry
 * points that share the core come before it: put the functions a core calls first, then the core, then the entry
 * points that call it — and build every pipeline in a test.
 *
 * @example
 * ```ts
 * import dense from "../../kernels/matmul_dense.wgsl" with { type: "text" };
 * import block from "../../kernels/matmul_block.wgsl" with { type: "text" };
 * import tile from "../../kernels/matmul_tile.wgsl" with { type: "text" };
 * import front from "../../kernels/matmul_f16.wgsl" with { type: "text" };
 * const kernel = { name: "matmul_f16", code: compose(dense, block, tile, front) };
 * ```
 */
export function compose(...parts: string[]): string {
  const directives: string[] = [];
  const bodies = parts.map((part) =>
    part.split("\n").filter((line) => {
      if (!DIRECTIVE.test(line)) return true;
      const d = line.replace(/\/\/.*$/, "").trim();
      if (!directives.includes(d)) directives.push(d);
      return false;
    }).join("\n")
  );
  return [...directives, ...bodies].join("\n");
}
