import type { CopilotKitSurface } from "../../copilotkit-surface/surface.js";
import { ANY_READ, RouteTable, threadParam } from "../access/route-table.js";
import { info } from "../copilotkit/handlers.js";
import { copilotkitRoutes } from "../copilotkit/routes.js";
import type { HttpDeps } from "../deps.js";
import { pathId } from "../validation.js";

/**
 * Threadline's CopilotKit surface under its base path (default `/copilotkit`, the `runtimeUrl`
 * of a stock chat): `/info` that turns the chat's run-activity wake on, CopilotKit's thread
 * store routes, and the ordinary CopilotKit wire routes. The root keeps the native API (whose
 * `GET /threads` has its own shape) and the plain CopilotKit routes without the wake. The
 * surface checks access again itself (it also serves a CopilotRuntime): with the gate's rule
 * as its `authorize` hook, the list shows only the caller's threads.
 */
export function copilotkitSurfaceRoutes(deps: HttpDeps, surface: CopilotKitSurface): RouteTable {
  const routes = new RouteTable(deps.gate);
  const answerInfo = (request: Request) =>
    Response.json({ ...info(deps), ...surface.infoFields(request) });
  routes.get("/info", ANY_READ, (c) => answerInfo(c.req.raw));
  routes.post("/info", ANY_READ, (c) => answerInfo(c.req.raw));
  routes.get("/threads", ANY_READ, (c) => surface.listThreads(c.req.raw));
  routes.post("/threads/subscribe", ANY_READ, (c) => surface.subscribe(c.req.raw));
  routes.get("/threads/:threadId/messages", threadParam("read"), (c) =>
    surface.threadMessages(c.req.raw, pathId(c, "threadId")),
  );
  routes.get("/threads/:threadId/state", threadParam("read"), (c) =>
    surface.threadState(c.req.raw, pathId(c, "threadId")),
  );
  routes.get("/threads/:threadId/events", threadParam("read"), (c) =>
    surface.threadEvents(c.req.raw, pathId(c, "threadId")),
  );
  routes.patch("/threads/:threadId", threadParam("write"), (c) =>
    surface.updateThread(c.req.raw, pathId(c, "threadId")),
  );
  routes.post("/threads/:threadId/archive", threadParam("write"), (c) =>
    surface.updateThread(c.req.raw, pathId(c, "threadId"), true),
  );
  routes.delete("/threads/:threadId", threadParam("write"), (c) =>
    surface.deleteThread(c.req.raw, pathId(c, "threadId")),
  );
  routes.mount("/", copilotkitRoutes(deps));
  return routes;
}
