/** A live tracking server over `<dir>/server` whose failures a test switches on and off. */
import { createServerApp } from "../src/server/mod.ts";

/**
 * Answers 503 while `state.down`, and for the endpoints (path suffixes such as `/runs/log-batch`) in
 * `state.failing`; `state.batches` records the sizes of each log-batch request it serves.
 */
export function flakyServer(dir: string) {
  const app = createServerApp({
    backendStoreUri: `${dir}/server/mlruns`,
    artifactsDestination: `${dir}/server/mlartifacts`,
  });
  const state = {
    down: false,
    failing: new Set<string>(),
    batches: [] as { metrics: number; params: number; tags: number }[],
  };
  const unavailable = () => new Response("unavailable", { status: 503 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (state.down || [...state.failing].some((p) => path.endsWith(p))) return unavailable();
    if (path.endsWith("/runs/log-batch")) {
      const j = await req.clone().json();
      state.batches.push({ metrics: j.metrics.length, params: j.params.length, tags: j.tags.length });
    }
    return app.fetch(req);
  });
  return { state, server, url: `http://127.0.0.1:${server.addr.port}` };
}
