/**
 * A live model server on an ephemeral port with the official `openai` client pointed at it: what the SDK-facing
 * serving tests (tests/serve_openai_test.ts, tests/serve_chat_test.ts) drive.
 */
import OpenAI from "openai";
import { listen } from "../src/server/mod.ts";
import { createServeApp, loadModel, Metrics, ModelService, type ServiceOptions } from "../src/serve/mod.ts";
import type { Gpu } from "../src/gpu/mod.ts";

/** How the server is set up: service options, an auth token, a body limit, the served name's aliases. */
export interface LiveServeOptions {
  service?: Partial<ServiceOptions>;
  authToken?: string;
  maxBodyBytes?: number;
  modelAliases?: string[];
}

/** Serves the model in `modelDir`; `stop()` drains the scheduler, shuts the server and frees the engine. */
export async function startLiveServer(gpu: Gpu, modelDir: string, o: LiveServeOptions = {}) {
  const loaded = await loadModel(modelDir);
  const metrics = new Metrics();
  const service = new ModelService(gpu, loaded, { maxBatch: 4, chunk: 6, ...o.service }, metrics);
  const app = createServeApp({
    service: () => service,
    metrics,
    modelName: "story",
    ...(o.modelAliases ? { modelAliases: o.modelAliases } : {}),
    guard: {
      host: "127.0.0.1",
      port: 0,
      ...(o.authToken ? { authToken: o.authToken } : {}),
      ...(o.maxBodyBytes ? { maxBodyBytes: o.maxBodyBytes } : {}),
    },
  });
  const server = listen(app, {
    host: "127.0.0.1",
    port: 0,
    authEnabled: !!o.authToken,
    name: "model server",
  });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: o.authToken ?? "none", maxRetries: 0 });
  const stop = async () => {
    service.close();
    while (service.scheduler.busy) await new Promise((r) => setTimeout(r, 5));
    await server.shutdown();
    service.engine.destroy();
  };
  return { url: server.url, client, service, stop };
}

/** The error `fn` rejects with (it must reject). */
export async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error, got none");
}
