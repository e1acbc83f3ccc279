/**
 * Streaming request-body limit: a declared Content-Length over the limit is refused at once (413), a chunked body
 * is counted as it is read and fails with 413 the moment it passes the limit. Unlike hono/body-limit it never
 * buffers the body, so large artifact uploads stream to disk.
 */
import type { MiddlewareHandler } from "hono";
import { httpError } from "./errors.ts";

function tooLarge(max: number) {
  return httpError(
    413,
    "REQUEST_LIMIT_EXCEEDED",
    `Cannot accept the request body: it is larger than the limit of ${max} bytes`,
  );
}

/** Middleware refusing request bodies over `maxBytes` with 413 REQUEST_LIMIT_EXCEEDED. */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return async function bodyLimit(c, next) {
    const body = c.req.raw.body;
    if (!body || !Number.isFinite(maxBytes)) return await next();
    const declared = c.req.header("Content-Length");
    if (declared !== undefined && !c.req.header("Transfer-Encoding")) {
      if (Number(declared) > maxBytes) {
        await body.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
    }
    let seen = 0;
    const counted = body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          seen += chunk.byteLength;
          if (seen > maxBytes) ctl.error(tooLarge(maxBytes));
          else ctl.enqueue(chunk);
        },
      }),
    );
    c.req.raw = new Request(c.req.raw, { body: counted });
    await next();
  };
}
