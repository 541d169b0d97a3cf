import { Hono } from "hono";
import { cors } from "hono/cors";
import { ThreadlineError } from "../core/errors.js";
import { REQUEST_HEADERS, RESPONSE_HEADERS } from "../protocol.js";
import type { Threadline } from "../threadline.js";
import { requireToken } from "./auth.js";
import { limitBody } from "./body-limit.js";
import { copilotkitRoutes } from "./copilotkit/routes.js";
import { hookRoutes } from "./hooks/routes.js";
import { inspectorRoutes } from "./inspector/routes.js";
import { scheduleRoutes } from "./schedules/routes.js";
import { threadRoutes } from "./threads/routes.js";
import { limitUrl } from "./url-limit.js";

export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** The HTTP surface: native thread API + CopilotKit v2 wire routes. Logic lives in core. */
export function createApp(tl: Threadline): Hono {
  const app = new Hono();
  const maxBytes = tl.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  app.onError((error, c) => {
    if (error instanceof ThreadlineError) return error.toResponse();
    tl.options.logger?.error({ err: error, path: c.req.path }, "request failed");
    return new ThreadlineError("INTERNAL", "internal error").toResponse();
  });
  app.notFound((c) =>
    new ThreadlineError("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`).toResponse(),
  );

  app.use("*", limitUrl());

  if (tl.options.cors !== false) {
    // Browser frontends (CopilotKit, the inspector) call from other origins; the token, not the
    // origin, is what protects the API.
    app.use(
      "*",
      cors({
        origin: tl.options.cors === undefined || tl.options.cors === true ? "*" : tl.options.cors,
        allowHeaders: [...REQUEST_HEADERS],
        exposeHeaders: [...RESPONSE_HEADERS],
      }),
    );
  }

  app.get("/healthz", async (c) => {
    await tl.ready;
    return c.json({ ok: true, store: tl.store.kind, instanceId: tl.coordinator.instanceId });
  });

  // Signed by HMAC instead of the bearer token: mounted before the token middleware.
  app.route("/", hookRoutes(tl, { maxBytes }));
  // The inspector page and its static assets hold no data: they load without the token, then the
  // page asks for it and sends it with every API call.
  if (tl.options.inspector !== false) app.route("/", inspectorRoutes());

  app.use("*", requireToken(tl.options.token));
  app.use("*", async (_c, next) => {
    await tl.ready;
    return next();
  });
  app.use("*", limitBody(maxBytes));

  app.route("/", threadRoutes(tl));
  app.route("/", scheduleRoutes(tl));
  app.route("/", copilotkitRoutes(tl));
  return app;
}
