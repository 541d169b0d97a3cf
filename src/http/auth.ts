import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ThreadlineError } from "../core/errors.js";

export type AuthAction = "read" | "write" | "admin";

export interface AuthorizeContext {
  threadId?: string;
  action: AuthAction;
}

/**
 * Library users' access hook: return true to allow, false (403) to deny, or throw a
 * ThreadlineError of your own. Called for every route except /healthz and /readyz.
 */
export type AuthorizeHook = (request: Request, ctx: AuthorizeContext) => boolean | Promise<boolean>;

/** Constant-time comparison of a presented token with the server's. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Health probes: load balancers and orchestrators call them without credentials. */
const PROBES = new Set(["/healthz", "/readyz"]);

/** Bearer token check. Browsers' EventSource cannot set headers, so `?access_token=` works too. */
export function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!token || PROBES.has(c.req.path) || c.req.method === "OPTIONS") return next();
    const header = c.req.header("authorization") ?? "";
    const given = header.startsWith("Bearer ")
      ? header.slice(7).trim()
      : (c.req.query("access_token") ?? "");
    if (!given || !tokenMatches(given, token)) {
      throw new ThreadlineError(
        "UNAUTHORIZED",
        given
          ? "the bearer token is not valid"
          : "this server requires `Authorization: Bearer <token>`",
      );
    }
    return next();
  };
}

export async function authorize(
  hook: AuthorizeHook | undefined,
  request: Request,
  ctx: AuthorizeContext,
): Promise<void> {
  if (!hook) return;
  const ok = await hook(request, ctx);
  if (!ok) {
    throw new ThreadlineError(
      "FORBIDDEN",
      `not allowed to ${ctx.action}${ctx.threadId ? ` thread '${ctx.threadId}'` : ""}`,
    );
  }
}
