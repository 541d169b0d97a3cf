import { type Context, Hono } from "hono";
import type { BlankEnv } from "hono/types";
import { pathId } from "../validation.js";
import type { Access, AccessGate } from "./gate.js";

export type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** An `Access`, or how to find it in the request (a thread id in the path or the body). */
// biome-ignore lint/suspicious/noExplicitAny: a rule serves routes of any path (Hono's own default)
export type AccessRule<P extends string = any> =
  | Access
  | ((c: Context<BlankEnv, P>) => Access | Promise<Access>);

export type Handler<P extends string> = (c: Context<BlankEnv, P>) => Response | Promise<Response>;

/** One declared route, as `routeTable(app)` lists it (`path` is the full path). */
export interface DeclaredRoute {
  method: Method;
  path: string;
  access: AccessRule;
}

export const PUBLIC: Access = { kind: "public" };
export const ADMIN: Access = { kind: "admin" };
/** Reading what only admins may see (the hook is asked `read`). */
export const ADMIN_READ: Access = { kind: "admin", action: "read" };
export const ANY_READ: Access = { kind: "principal", action: "read" };
export const ANY_WRITE: Access = { kind: "principal", action: "write" };

/**
 * The thread named by the `:threadId` path parameter; with `interrupt`, a route about the
 * interrupt `:interruptId` (its signed link may use it).
 */
export const threadParam =
  (action: "read" | "write", opts: { follow?: boolean; interrupt?: boolean } = {}): AccessRule =>
  (c) => ({
    kind: "thread",
    action,
    threadId: pathId(c, "threadId"),
    ...(opts.follow ? { follow: true } : {}),
    ...(opts.interrupt ? { interruptId: c.req.param("interruptId") ?? "" } : {}),
  });

/**
 * Routes whose access requirement is part of their declaration: a route cannot be added
 * without saying what it needs, and the gate enforces it before the handler runs. The app's
 * table (`routeTable`) is what the access tests walk, so a route added any other way fails them.
 */
export class RouteTable {
  readonly app = new Hono();
  readonly routes: DeclaredRoute[] = [];

  constructor(private readonly gate: AccessGate) {}

  on<P extends string>(method: Method, path: P, access: AccessRule<P>, handler: Handler<P>): this {
    this.app.on(method, path, async (c: Context<BlankEnv, P>) => {
      await this.gate.check(c.req.raw, typeof access === "function" ? () => access(c) : access);
      return handler(c);
    });
    this.routes.push({ method, path, access });
    return this;
  }

  get<P extends string>(path: P, access: AccessRule<P>, handler: Handler<P>): this {
    return this.on("GET", path, access, handler);
  }
  post<P extends string>(path: P, access: AccessRule<P>, handler: Handler<P>): this {
    return this.on("POST", path, access, handler);
  }
  patch<P extends string>(path: P, access: AccessRule<P>, handler: Handler<P>): this {
    return this.on("PATCH", path, access, handler);
  }
  delete<P extends string>(path: P, access: AccessRule<P>, handler: Handler<P>): this {
    return this.on("DELETE", path, access, handler);
  }

  /** Serves `other`'s routes under `prefix`. */
  mount(prefix: string, other: RouteTable): this {
    this.app.route(prefix, other.app);
    for (const r of other.routes) this.routes.push({ ...r, path: joinPath(prefix, r.path) });
    return this;
  }
}

const tables = new WeakMap<Hono, readonly DeclaredRoute[]>();

/** Records `table` as the declaration of `app` (the server's root app). */
export function declareRoutes(app: Hono, table: RouteTable): void {
  tables.set(app, table.routes);
}

/**
 * Refuses an app that serves a route its table does not declare (one added with `app.get` and
 * the like, around the gate): a forgotten access check stops the server from starting instead
 * of leaving a silent hole. Middleware (`app.use`, method ALL) is not a route.
 */
export function assertDeclared(app: Hono, table: RouteTable): void {
  const declared = new Set(table.routes.map((r) => `${r.method} ${r.path}`));
  const stray = app.routes
    .filter((r) => r.method !== "ALL" && !declared.has(`${r.method} ${r.path}`))
    .map((r) => `${r.method} ${r.path}`);
  if (stray.length > 0) {
    throw new Error(
      `routes without an access declaration (declare them through a RouteTable): ${[...new Set(stray)].join(", ")}`,
    );
  }
}

/** Every route of the server with its declared access. */
export function routeTable(app: Hono): readonly DeclaredRoute[] {
  return tables.get(app) ?? [];
}

/** Joins as Hono's `route()` does: `/` + `/x` is `/x`, `/base` + `/` is `/base`. */
export function joinPath(prefix: string, path: string): string {
  const p = prefix.replace(/\/+$/, "");
  if (path === "/") return p === "" ? "/" : p;
  return `${p}${path}`;
}
