/**
 * `guard()`: the safety middleware both servers put in front of everything — security headers, Host allowlist
 * (DNS rebinding), cross-origin refusal or opt-in CORS, Bearer/basic auth and a streaming body limit.
 * Not the place for routing or MLflow semantics; its refusals are MLflow-shaped JSON so any client can read them.
 */
import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { Authenticator, Htpasswd } from "./auth.ts";
import { bodyLimit } from "./body_limit.ts";
import { errorResponse } from "./errors.ts";

/** What the guard checks; shared by the tracking server and the model server (src/serve). */
export interface GuardOptions {
  /** The bound host: allowed in the Host header besides the loopback names (wildcards 0.0.0.0/:: are not). */
  host: string;
  port: number;
  /** Require `Authorization: Bearer <token>`. */
  authToken?: string;
  /** Require basic auth against this htpasswd-style file ({SHA} or sha256: hashes). */
  htpasswdFile?: string;
  /** More Host header values to accept: exact names, `host:port`, `*.example.com`, or `*` for any. */
  allowedHosts?: string[];
  /** Origins allowed to call cross-origin (CORS headers are only sent for these); none by default. */
  corsOrigins?: string[];
  /** Request bodies above this many bytes get 413 (default 16 MiB). */
  maxBodyBytes?: number;
}

/** Default request-body limit for JSON APIs. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The CSP put on HTML responses that do not set their own. */
export const HTML_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
  "form-action 'self'; frame-ancestors 'none'";

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]", "::1"];
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", ""]);

/** True for loopback bind addresses (no warning needed when binding them without auth). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return LOOPBACK_NAMES.includes(h) || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** `[::1]:5000` → `[::1]`, `Example.com:80` → `example.com`. */
function hostnameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  const colon = h.indexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

/** A predicate over Host header values implementing the allowlist. */
export function hostAllowlist(host: string, allowedHosts: string[] = []): (hostHeader: string) => boolean {
  const names = new Set(LOOPBACK_NAMES);
  const bound = host.toLowerCase();
  if (!WILDCARD_HOSTS.has(bound)) {
    names.add(bound.includes(":") && !bound.startsWith("[") ? `[${bound}]` : bound);
  }
  const exact = new Set<string>();
  const suffixes: string[] = [];
  let any = false;
  for (const raw of allowedHosts) {
    const a = raw.trim().toLowerCase();
    if (a === "*") any = true;
    else if (a.startsWith("*.")) suffixes.push(a.slice(1));
    else if (a) (a.includes(":") && !a.startsWith("[") && a.split(":").length === 2 ? exact : names).add(a);
  }
  return (hostHeader: string) => {
    if (any) return true;
    const full = hostHeader.trim().toLowerCase();
    const name = hostnameOf(full);
    return names.has(name) || exact.has(full) || suffixes.some((s) => name.endsWith(s));
  };
}

function setSecurityHeaders(res: Response): void {
  const h = res.headers;
  try {
    h.set("X-Content-Type-Options", "nosniff");
    h.set("X-Frame-Options", "DENY");
    h.set("Referrer-Policy", "no-referrer");
    h.set("Cross-Origin-Opener-Policy", "same-origin");
    if (
      (h.get("Content-Type") ?? "").toLowerCase().startsWith("text/html") && !h.has("Content-Security-Policy")
    ) {
      h.set("Content-Security-Policy", HTML_CSP);
    }
  } catch { /* immutable headers (a proxied Response): leave them */ }
}

/**
 * One composed middleware (mount with `app.use("*", guard(opts))` before any route). Throws UsageError at
 * construction for a bad htpasswd file or a too-short token. `GET /health` stays open without credentials.
 */
export function guard(opts: GuardOptions): MiddlewareHandler {
  const allowHost = hostAllowlist(opts.host, opts.allowedHosts);
  const auth = opts.authToken !== undefined || opts.htpasswdFile !== undefined
    ? new Authenticator({
      authToken: opts.authToken,
      htpasswd: opts.htpasswdFile !== undefined ? Htpasswd.load(opts.htpasswdFile) : undefined,
    })
    : null;
  const origins = opts.corsOrigins ?? [];
  const corsMw = origins.length
    ? cors({
      origin: origins,
      allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      allowHeaders: ["Authorization", "Content-Type"],
      maxAge: 600,
    })
    : null;
  const limit = bodyLimit(opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);

  const refuse = (c: Context): Response | null => {
    const hostHeader = c.req.header("Host") ?? new URL(c.req.url).host;
    if (!allowHost(hostHeader)) {
      return errorResponse(
        "PERMISSION_DENIED",
        `Cannot serve host '${hostHeader}': it is not in the allowed hosts (a DNS-rebinding guard); ` +
          `start the server with --allowed-hosts ${hostnameOf(hostHeader)} to allow it`,
        403,
      );
    }
    const origin = c.req.header("Origin");
    const safe = c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS";
    if (origin && !safe && !origins.includes(origin) && !sameOrigin(origin, hostHeader)) {
      return errorResponse(
        "PERMISSION_DENIED",
        `Cannot accept a cross-origin ${c.req.method} from '${origin}': that origin is not allowed ` +
          `(start the server with --cors-origin ${origin} to allow it)`,
        403,
      );
    }
    return null;
  };

  const authenticate = async (c: Context): Promise<Response | null> => {
    if (!auth || (c.req.method === "GET" && c.req.path === "/health")) return null;
    if (await auth.check(c.req.header("Authorization"))) return null;
    const res = errorResponse(
      "UNAUTHENTICATED",
      "Cannot authorize the request: missing or wrong credentials",
      401,
    );
    res.headers.set("WWW-Authenticate", auth.basic ? 'Basic realm="storyteller", charset="UTF-8"' : "Bearer");
    return res;
  };

  return async function guard(c, next) {
    const early = refuse(c);
    if (early) {
      setSecurityHeaders(early);
      return early;
    }
    const inner = async () => {
      const denied = await authenticate(c);
      if (denied) {
        c.res = denied;
        return;
      }
      try {
        await limit(c, next);
      } catch (err) {
        if (!(err instanceof HTTPException)) throw err;
        c.res = err.getResponse();
      }
    };
    if (corsMw) {
      const res = await corsMw(c, inner);
      if (res) c.res = res;
    } else await inner();
    setSecurityHeaders(c.res);
    return undefined;
  };
}

function sameOrigin(origin: string, hostHeader: string): boolean {
  try {
    return new URL(origin).host.toLowerCase() === hostHeader.trim().toLowerCase();
  } catch {
    return false;
  }
}
