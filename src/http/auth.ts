import { timingSafeEqual } from "node:crypto";
import type { AccessAction, Principal } from "../core/access.js";
import { forbidden } from "../core/access.js";

export type AuthAction = AccessAction;

export interface AuthorizeContext {
  threadId?: string;
  action: AuthAction;
  /**
   * Who the request speaks for (the static token, a user's verified JWT, `open`), after the
   * built-in rule allowed it. Absent when the hook is asked outside Threadline's server.
   */
  principal?: Principal;
}

/**
 * Library users' access hook: return true to allow, false (403) to deny, or throw a
 * ThreadlineError of your own. Called for every route but the public ones (`/healthz`,
 * `/readyz`, `/hooks/*`, the inspector page), after the built-in per-user rule allowed it.
 */
export type AuthorizeHook = (request: Request, ctx: AuthorizeContext) => boolean | Promise<boolean>;

/** Constant-time comparison of a presented token with the server's. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function authorize(
  hook: AuthorizeHook | undefined,
  request: Request,
  ctx: AuthorizeContext,
): Promise<void> {
  if (!hook) return;
  const ok = await hook(request, ctx);
  if (!ok) throw forbidden(ctx.action, ctx.threadId);
}
