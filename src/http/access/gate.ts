import { forbidden, isAdmin, mayUseThread, type Principal } from "../../core/access.js";
import { ThreadlineError } from "../../core/errors.js";
import type { ThreadStore } from "../../core/store.js";
import { type AuthorizeContext, type AuthorizeHook, authorize } from "../auth.js";
import type { Authenticator } from "./authenticate.js";

/** What a route needs (declared with the route, see `route-table.ts`). */
export type Access =
  /** Anyone: probes, signed webhooks, the inspector page. */
  | { kind: "public" }
  /** Any authenticated principal; the route shows each only what it may see (lists, `/info`). */
  | { kind: "principal"; action: "read" | "write" }
  /** The static token (or an open server): schedules, metrics. The hook is asked `action`. */
  | { kind: "admin"; action?: "read" | "admin" }
  /** A thread the principal may use; `follow` routes also take that thread's follow URL. */
  | {
      kind: "thread";
      action: "read" | "write";
      threadId: string;
      follow?: boolean;
      /** A route about one interrupt: that interrupt's signed link may use it too. */
      interruptId?: string;
    };

/**
 * Executes `Access` declarations: authenticates the request (401), applies the per-user rule of
 * `core/access.ts` (403), then the library user's `authorize` hook. Remembers each request's
 * principal for its handler.
 */
export class AccessGate {
  private readonly principals = new WeakMap<Request, Principal>();

  constructor(
    readonly auth: Authenticator,
    private readonly store: ThreadStore,
    private readonly hook: AuthorizeHook | undefined,
  ) {}

  /** Whether anything is checked at all (credentials or a hook). */
  get guarded(): boolean {
    return this.auth.configured || this.hook !== undefined;
  }

  /**
   * `access` may be found in the request (a body's thread id): then only once the request is
   * authenticated, so a stranger learns nothing from a 400 about a body it may not send.
   */
  async check(request: Request, rule: Access | (() => Access | Promise<Access>)): Promise<void> {
    if (typeof rule !== "function" && rule.kind === "public") return;
    const p = await this.auth.authenticate(request);
    this.principals.set(request, p);
    const access = typeof rule === "function" ? await rule() : rule;
    if (access.kind === "public") return;
    if (p.followOnly !== undefined) {
      const ok = access.kind === "thread" && access.follow && access.threadId === p.followOnly;
      if (!ok) throw new ThreadlineError("FORBIDDEN", "a follow URL only follows its thread");
    }
    const link = p.interruptOnly;
    if (link !== undefined) {
      // The link is the whole grant (its maker had the thread's access): no per-user rule, the hook still asked.
      const ok =
        access.kind === "thread" &&
        access.threadId === link.threadId &&
        access.interruptId === link.interruptId;
      if (!ok) {
        throw new ThreadlineError(
          "FORBIDDEN",
          `an interrupt link only answers interrupt '${link.interruptId}' of thread '${link.threadId}'`,
        );
      }
      await authorize(this.hook, request, {
        action: access.action,
        principal: p,
        threadId: access.threadId,
      });
      return;
    }
    await this.allow(request, p, access);
  }

  /** The principal of a request, if it was authenticated (for its log line). */
  peek(request: Request): Principal | undefined {
    return this.principals.get(request);
  }

  /** The principal `check` found for this request (every declared route has one). */
  principal(request: Request): Principal {
    const p = this.principals.get(request);
    if (!p) throw new ThreadlineError("INTERNAL", "the route declares no access");
    return p;
  }

  /**
   * The whole rule as an `authorize` hook, for code that checks requests itself: the CopilotKit
   * surface (its list filter, its socket's per-thread announcements).
   */
  readonly asHook: AuthorizeHook = async (request, ctx) => {
    const p = await this.auth.authenticate(request);
    if (p.followOnly !== undefined || p.interruptOnly !== undefined) return false;
    try {
      await this.allow(
        request,
        p,
        ctx.threadId === undefined
          ? ctx.action === "admin"
            ? { kind: "admin" }
            : { kind: "principal", action: ctx.action }
          : {
              kind: "thread",
              action: ctx.action === "read" ? "read" : "write",
              threadId: ctx.threadId,
            },
      );
      return true;
    } catch (error) {
      if (ThreadlineError.is(error, "FORBIDDEN")) return false;
      throw error;
    }
  };

  private async allow(
    request: Request,
    p: Principal,
    access: Exclude<Access, { kind: "public" }>,
  ): Promise<void> {
    const ctx: AuthorizeContext = { action: "read", principal: p };
    switch (access.kind) {
      case "admin":
        if (!isAdmin(p)) throw forbidden(access.action ?? "admin");
        ctx.action = access.action ?? "admin";
        break;
      case "principal":
        ctx.action = access.action;
        break;
      case "thread": {
        const head = isAdmin(p) ? null : await this.store.threads.head(access.threadId);
        if (!mayUseThread(p, access.threadId, head))
          throw forbidden(access.action, access.threadId);
        ctx.action = access.action;
        ctx.threadId = access.threadId;
        break;
      }
    }
    await authorize(this.hook, request, ctx);
  }
}
