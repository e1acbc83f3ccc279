/** The program version, taken from deno.json so there is one place to bump it. */
import meta from "../deno.json" with { type: "json" };

export const VERSION: string = meta.version;
