import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ThreadlineError } from "../core/errors.js";
import type { Threadline } from "../threadline.js";
import { requireToken } from "./auth.js";
import { copilotkitRoutes } from "./copilotkit/routes.js";
import { hookRoutes } from "./hooks/routes.js";
import { scheduleRoutes } from "./schedules/routes.js";
import { threadRoutes } from "./threads/routes.js";

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

  app.get("/healthz", async (c) => {
    await tl.ready;
    return c.json({ ok: true, store: tl.store.kind, instanceId: tl.coordinator.instanceId });
  });

  // Signed by HMAC instead of the bearer token: mounted before the token middleware.
  app.route("/", hookRoutes(tl, { maxBytes }));

  app.use("*", requireToken(tl.options.token));
  app.use("*", async (_c, next) => {
    await tl.ready;
    return next();
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw new ThreadlineError("PAYLOAD_TOO_LARGE", `request body exceeds ${maxBytes} bytes`);
      },
    }),
  );

  app.route("/", threadRoutes(tl));
  app.route("/", scheduleRoutes(tl));
  app.route("/", copilotkitRoutes(tl));
  return app;
}
