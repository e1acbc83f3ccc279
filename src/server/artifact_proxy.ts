/**
 * Artifact serving: the MLflow artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/<path>`: PUT upload, GET
 * download, GET `?path=` list, DELETE) over `--artifacts-destination`, the run-level `artifacts/list`, and the
 * UI's `/get-artifact` and `/model-versions/get-artifact`. Every path goes through ./paths.ts; downloads that a
 * browser could render as active content are attachments under a sandbox CSP.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { dirname, extname, join, relative } from "node:path";
import type { ServerContext } from "./context.ts";
import { bodyLimit } from "./body_limit.ts";
import { checkedSegments, decodeUrlPath, resolveUnder } from "./paths.ts";
import { localArtifactRoot, resolveArtifactFile } from "./sources.ts";
import { Params } from "./request.ts";
import { isDir, paginate, TrackingError } from "../tracking/mod.ts";

const TEXT = "text/plain; charset=utf-8";
const TYPES: Record<string, string> = {
  ".txt": TEXT,
  ".log": TEXT,
  ".md": TEXT,
  ".py": TEXT,
  ".yaml": TEXT,
  ".yml": TEXT,
  ".csv": TEXT,
  ".tsv": TEXT,
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
};
/** Types a browser renders as active content: always downloaded, never inline. */
const ACTIVE = new Set([".html", ".htm", ".xhtml", ".svg", ".svgz", ".xml", ".xsl", ".js", ".mjs", ".pdf"]);

function notFound(what: string): TrackingError {
  return new TrackingError("RESOURCE_DOES_NOT_EXIST", `Cannot find artifact '${what}'`);
}

/** A file response: type by extension, `nosniff` from the guard, `sandbox` CSP, attachments for active types. */
export async function fileResponse(path: string, displayName: string): Promise<Response> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    throw notFound(displayName);
  }
  const st = await file.stat();
  if (!st.isFile) {
    file.close();
    throw new TrackingError("INVALID_PARAMETER_VALUE", `Cannot download '${displayName}': it is a directory`);
  }
  const ext = extname(path).toLowerCase();
  const name = displayName.split("/").pop() || "artifact";
  const headers = new Headers({
    "Content-Type": ACTIVE.has(ext) ? "application/octet-stream" : TYPES[ext] ?? "application/octet-stream",
    "Content-Length": String(st.size),
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "no-store",
  });
  if (ACTIVE.has(ext) || !TYPES[ext]) {
    headers.set(
      "Content-Disposition",
      `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, "_")}"; filename*=UTF-8''${
        encodeURIComponent(name)
      }`,
    );
  }
  return new Response(file.readable, { headers });
}

/** One directory level as MLflow file infos, paths relative to `base`. */
export function listDir(dir: string, base: string): { path: string; is_dir: boolean; file_size?: number }[] {
  let entries: Deno.DirEntry[];
  try {
    if (!Deno.statSync(dir).isDirectory) return [];
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
  return entries
    .filter((e) => !e.name.endsWith(".upload.tmp"))
    .map((e) => {
      const abs = join(dir, e.name);
      const path = relative(base, abs);
      if (e.isDirectory) return { path, is_dir: true };
      // Proto3 JSON, as MLflow sends it: a zero file_size (an empty file) is left out. A symlink is listed only when
      // it stays inside the root (the download check is the real guard), without a size.
      const size = e.isSymlink ? 0 : Deno.statSync(abs).size;
      return size ? { path, is_dir: false, file_size: size } : { path, is_dir: false };
    })
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** The raw (still percent-encoded) path after `/artifacts/` in the request URL. */
function rawTail(c: Context): string {
  const pathname = new URL(c.req.url).pathname;
  const at = pathname.indexOf("/artifacts/");
  return at < 0 ? "" : pathname.slice(at + "/artifacts/".length);
}

/** The artifact proxy routes (mounted at `/api/2.0/mlflow-artifacts`). */
export function artifactProxyApi(ctx: ServerContext): Hono {
  const root = ctx.artifactsRoot!;
  const app = new Hono();

  app.get("/artifacts", (c) => {
    const segs = checkedSegments(c.req.query("path") ?? "");
    if (!isDir(root)) return c.json({});
    const dir = resolveUnder(root, segs);
    const files = listDir(dir, dir);
    return c.json(files.length ? { files } : {});
  });

  app.put("/artifacts/*", bodyLimit(ctx.maxArtifactBytes), async (c) => {
    const segs = decodeUrlPath(rawTail(c));
    if (segs.length === 0) {
      throw new TrackingError("INVALID_PARAMETER_VALUE", "Cannot upload: the path is empty");
    }
    await Deno.mkdir(root, { recursive: true });
    const target = resolveUnder(root, segs, true);
    if (isDir(target)) {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        `Cannot upload to '${segs.join("/")}': it is a directory`,
      );
    }
    await Deno.mkdir(dirname(target), { recursive: true });
    resolveUnder(root, segs, true); // re-check after mkdir: nothing may have raced a symlink in
    const tmp = `${target}.${crypto.randomUUID()}.upload.tmp`;
    try {
      const file = await Deno.open(tmp, { write: true, createNew: true });
      if (c.req.raw.body) await c.req.raw.body.pipeTo(file.writable);
      else file.close();
      await Deno.rename(tmp, target);
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
    return c.json({});
  });

  app.get("/artifacts/*", async (c) => {
    const segs = decodeUrlPath(rawTail(c));
    return await fileResponse(resolveUnder(root, segs), segs.join("/"));
  });

  app.delete("/artifacts/*", async (c) => {
    const segs = decodeUrlPath(rawTail(c));
    if (segs.length === 0) {
      throw new TrackingError("INVALID_PARAMETER_VALUE", "Cannot delete the artifact root");
    }
    const target = resolveUnder(root, segs, true);
    try {
      await Deno.remove(target, { recursive: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw notFound(segs.join("/"));
      throw err;
    }
    return c.json({});
  });

  app.all("/mpu/*", () => {
    throw new TrackingError(
      "NOT_IMPLEMENTED",
      "Cannot start a multipart upload: this server stores artifacts on a local disk; upload with PUT",
    );
  });
  return app;
}

/** `artifacts/list` of the MLflow API: one level of a run's artifacts, paths relative to the run root. */
export function runArtifactsApi(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get("/artifacts/list", async (c) => {
    const p = await Params.of(c);
    const run = await ctx.store.getRun(p.runId());
    const sub = p.str("path") ?? "";
    const segs = checkedSegments(sub);
    if (
      ctx.artifactsRoot !== null && !isDir(ctx.artifactsRoot) &&
      /^mlflow-artifacts:/i.test(run.info.artifactUri)
    ) {
      return c.json({ root_uri: run.info.artifactUri }); // nothing uploaded yet
    }
    const base = localArtifactRoot(ctx, run.info.artifactUri);
    const files = isDir(base) ? listDir(resolveUnder(base, segs), base) : [];
    const page = paginate(files, p.int("max_results"), p.str("page_token") || undefined, Infinity);
    return c.json({
      root_uri: run.info.artifactUri,
      ...(page.items.length ? { files: page.items } : {}),
      ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
    });
  });
  return app;
}

/** The UI's raw artifact downloads: `/get-artifact?run_id=&path=` and `/model-versions/get-artifact`. */
export function getArtifactRoutes(ctx: ServerContext): Hono {
  const app = new Hono();
  const serve = async (artifactUri: string, path: string) =>
    await fileResponse(resolveArtifactFile(ctx, artifactUri, path), path);
  const runArtifact = async (c: Context) => {
    const p = await Params.of(c);
    const run = await ctx.store.getRun(p.runId());
    return await serve(run.info.artifactUri, p.req("path"));
  };
  const versionArtifact = async (c: Context) => {
    const p = await Params.of(c);
    const uri = await ctx.store.getModelVersionDownloadUri(p.req("name"), p.req("version"));
    const resolved = await ctx.store.resolveArtifactUri(uri);
    return await serve(resolved, p.req("path"));
  };
  for (const prefix of ["", "/ajax-api/2.0/mlflow"]) {
    app.get(`${prefix}/get-artifact`, runArtifact);
    app.get(`${prefix}/model-versions/get-artifact`, versionArtifact);
  }
  return app;
}
