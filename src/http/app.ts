import type { Context, Hono } from "hono";
import { cors } from "hono/cors";
import { matchedRoutes } from "hono/route";
import { ThreadlineError } from "../core/errors.js";
import { checkReadiness } from "../core/readiness.js";
import { REQUEST_HEADERS, RESPONSE_HEADERS } from "../protocol.js";
import {
  ADMIN_READ,
  assertDeclared,
  declareRoutes,
  PUBLIC,
  RouteTable,
} from "./access/route-table.js";
import { limitBody } from "./body-limit.js";
import { copilotkitRoutes } from "./copilotkit/routes.js";
import { copilotkitSurfaceRoutes } from "./copilotkit-surface/routes.js";
import type { HttpDeps } from "./deps.js";
import { hookRoutes } from "./hooks/routes.js";
import { inspectorRoutes } from "./inspector/routes.js";
import { checkOrigin, originPolicy } from "./origin-policy.js";
import { scheduleRoutes } from "./schedules/routes.js";
import { interruptRoutes } from "./threads/interrupt-routes.js";
import { threadRoutes } from "./threads/routes.js";
import { limitUrl } from "./url-limit.js";

export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** The HTTP surface: native thread API + CopilotKit v2 wire routes. Logic lives in core. */
export function createApp(deps: HttpDeps): Hono {
  // Every route is declared with its access requirement (PROTOCOL.md §7): see route-table.ts.
  const routes = new RouteTable(deps.gate);
  const app = routes.app;
  declareRoutes(app, routes);
  const maxBytes = deps.config.maxBodyBytes;

  app.onError((error, c) => {
    if (error instanceof ThreadlineError) return error.toResponse();
    deps.logger?.error({ err: error, path: c.req.path }, "request failed");
    return new ThreadlineError("INTERNAL", "internal error").toResponse();
  });
  app.notFound((c) =>
    new ThreadlineError("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`).toResponse(),
  );

  // One structured line per request, and its metrics: the route's pattern, never its ids.
  app.use("*", async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = routePattern(c);
      const status = c.res.status;
      const seconds = (performance.now() - started) / 1000;
      deps.metrics?.request(c.req.method, route, status, seconds);
      const p = deps.gate.peek(c.req.raw);
      const line = {
        method: c.req.method,
        route,
        status,
        durationMs: Math.round(seconds * 10_000) / 10,
        ...(p && p.kind !== "open" ? { principal: `${p.kind}:${p.id}` } : {}),
      };
      // Probes are asked every few seconds: only at debug.
      if (route === "/healthz" || route === "/readyz") deps.logger?.debug(line, "request");
      else deps.logger?.info(line, "request");
    }
  });

  app.use("*", limitUrl());

  // Which web pages may call: by default none but our own (the inspector); `cors` opens it to
  // a frontend served elsewhere (a CopilotKit app) or to any page. Webhooks are signed requests
  // from servers, never from a page: no origin check for them.
  const origins = originPolicy(deps.config.cors);
  const refuseForeign = checkOrigin(origins);
  app.use("*", (c, next) => (c.req.path.startsWith("/hooks/") ? next() : refuseForeign(c, next)));
  if (origins.anyOrigin || origins.origins.size > 0) {
    app.use(
      "*",
      cors({
        origin: origins.anyOrigin ? "*" : (origin) => (origins.origins.has(origin) ? origin : null),
        allowHeaders: [...REQUEST_HEADERS],
        exposeHeaders: [...RESPONSE_HEADERS],
      }),
    );
  }

  // Liveness: the process answers. Never waits on the store: an outage makes an instance unready
  // (below), and restarting it would not bring the store back.
  routes.get("/healthz", PUBLIC, (c) =>
    c.json({ ok: true, store: deps.store.kind, instanceId: deps.instanceId }),
  );
  // Readiness: start-up recovery done, not shutting down, the store answers. 503 says why; the
  // driver's own message only when the server checks no credentials (it may name internal hosts).
  routes.get("/readyz", PUBLIC, async (c) => {
    const r = await checkReadiness({
      store: deps.store,
      started: deps.ready,
      closing: deps.closing,
    });
    const body = { store: deps.store.kind, instanceId: deps.instanceId };
    if (r.ready) return c.json({ ok: true, ...body });
    const detail =
      r.cause !== undefined && !deps.gate.auth.configured ? `: ${errorText(r.cause)}` : "";
    return new ThreadlineError(r.code ?? "UNAVAILABLE", `not ready: ${r.reason}${detail}`, {
      details: body,
    }).toResponse({ "cache-control": "no-store" });
  });

  // Prometheus scrapes: the static token's (scrapers hold it), unless configured open.
  const metrics = deps.metrics;
  if (metrics) {
    routes.get(
      "/metrics",
      deps.config.metricsOpen ? PUBLIC : ADMIN_READ,
      async () =>
        new Response(await metrics.scrape(), { headers: { "content-type": metrics.contentType } }),
    );
  }

  // Signed by HMAC instead of a bearer token; they bring their own body limit and wait.
  routes.mount("/", hookRoutes(deps, { maxBytes }));
  // The inspector page and its static assets hold no data: they load without the token, then the
  // page asks for it and sends it with every API call.
  if (deps.config.inspector) routes.mount("/", inspectorRoutes(deps.gate));

  app.use("*", async (_c, next) => {
    await deps.ready;
    return next();
  });
  app.use("*", limitBody(maxBytes));

  routes.mount("/", interruptRoutes(deps));
  routes.mount("/", threadRoutes(deps));
  routes.mount("/", scheduleRoutes(deps));
  routes.mount("/", copilotkitRoutes(deps));
  if (deps.copilotkit) {
    routes.mount(deps.copilotkit.basePath, copilotkitSurfaceRoutes(deps, deps.copilotkit));
  }
  assertDeclared(app, routes);
  return app;
}

const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/** The matched route's pattern (`/threads/:threadId`), or `unmatched` for a 404 of no route. */
function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]!;
    if (r.method !== "ALL") return r.path;
  }
  return "unmatched";
}
