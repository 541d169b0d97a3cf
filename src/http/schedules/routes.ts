import { z } from "zod";
import { ADMIN, ADMIN_READ, RouteTable } from "../access/route-table.js";
import type { HttpDeps } from "../deps.js";
import { jsonBody } from "../validation.js";

/** Any JSON object; the scheduler validates the fields and names what is wrong. */
const objectBody = z.record(z.string(), z.unknown(), { message: "must be a JSON object" });

/**
 * Schedules: create, list, read, patch (pause/resume and fields), delete. They name any thread
 * and run as nobody in particular: only the static token (or an open server) manages them.
 */
export function scheduleRoutes(deps: HttpDeps): RouteTable {
  const routes = new RouteTable(deps.gate);

  routes.post("/schedules", ADMIN, async (c) => {
    const body = await jsonBody(c, objectBody);
    return c.json(await deps.scheduler.create(body), 201);
  });

  routes.get("/schedules", ADMIN_READ, async (c) =>
    c.json({ schedules: await deps.scheduler.list() }),
  );

  routes.get("/schedules/:scheduleId", ADMIN_READ, async (c) =>
    c.json(await deps.scheduler.get(c.req.param("scheduleId"))),
  );

  routes.patch("/schedules/:scheduleId", ADMIN, async (c) => {
    const body = await jsonBody(c, objectBody);
    return c.json(await deps.scheduler.update(c.req.param("scheduleId"), body));
  });

  routes.delete("/schedules/:scheduleId", ADMIN, async (c) => {
    await deps.scheduler.remove(c.req.param("scheduleId"));
    return c.body(null, 204);
  });

  return routes;
}
