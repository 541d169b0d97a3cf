import { Hono } from "hono";
import type { CopilotKitSurface } from "../../copilotkit-surface/surface.js";
import type { Threadline } from "../../threadline.js";
import { authorize } from "../auth.js";
import { info } from "../copilotkit/handlers.js";
import { copilotkitRoutes } from "../copilotkit/routes.js";

/**
 * Threadline's CopilotKit surface under its base path (default `/copilotkit`, the `runtimeUrl`
 * of a stock chat): `/info` that turns the chat's run-activity wake on, CopilotKit's thread
 * store routes, and the ordinary CopilotKit wire routes. The root keeps the native API (whose
 * `GET /threads` has its own shape) and the plain CopilotKit routes without the wake.
 */
export function copilotkitSurfaceRoutes(tl: Threadline, surface: CopilotKitSurface): Hono {
  const app = new Hono();
  const answerInfo = async (request: Request) => {
    await authorize(tl.options.authorize, request, { action: "read" });
    return Response.json({ ...info(tl), ...surface.infoFields(request) });
  };
  app.get("/info", (c) => answerInfo(c.req.raw));
  app.post("/info", (c) => answerInfo(c.req.raw));
  app.get("/threads", (c) => surface.listThreads(c.req.raw));
  app.post("/threads/subscribe", (c) => surface.subscribe(c.req.raw));
  app.get("/threads/:threadId/messages", (c) =>
    surface.threadMessages(c.req.raw, c.req.param("threadId")),
  );
  app.get("/threads/:threadId/state", (c) =>
    surface.threadState(c.req.raw, c.req.param("threadId")),
  );
  app.get("/threads/:threadId/events", (c) =>
    surface.threadEvents(c.req.raw, c.req.param("threadId")),
  );
  app.patch("/threads/:threadId", (c) => surface.updateThread(c.req.raw, c.req.param("threadId")));
  app.post("/threads/:threadId/archive", (c) =>
    surface.updateThread(c.req.raw, c.req.param("threadId"), true),
  );
  app.delete("/threads/:threadId", (c) => surface.deleteThread(c.req.raw, c.req.param("threadId")));
  app.route("/", copilotkitRoutes(tl));
  return app;
}
