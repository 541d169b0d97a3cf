import { Hono } from "hono";
import { z } from "zod";
import type { Threadline } from "../../threadline.js";
import { authorize } from "../auth.js";
import { jsonBody } from "../validation.js";

/** Any JSON object; the scheduler validates the fields and names what is wrong. */
const objectBody = z.record(z.string(), z.unknown(), { message: "must be a JSON object" });

/** Schedules: create, list, read, patch (pause/resume and fields), delete. */
export function scheduleRoutes(tl: Threadline): Hono {
  const app = new Hono();
  const hook = tl.options.authorize;

  app.post("/schedules", async (c) => {
    const body = await jsonBody(c, objectBody);
    await authorize(hook, c.req.raw, { action: "admin" });
    return c.json(await tl.scheduler.create(body), 201);
  });

  app.get("/schedules", async (c) => {
    await authorize(hook, c.req.raw, { action: "read" });
    return c.json({ schedules: await tl.scheduler.list() });
  });

  app.get("/schedules/:scheduleId", async (c) => {
    await authorize(hook, c.req.raw, { action: "read" });
    return c.json(await tl.scheduler.get(c.req.param("scheduleId")));
  });

  app.patch("/schedules/:scheduleId", async (c) => {
    const body = await jsonBody(c, objectBody);
    await authorize(hook, c.req.raw, { action: "admin" });
    return c.json(await tl.scheduler.update(c.req.param("scheduleId"), body));
  });

  app.delete("/schedules/:scheduleId", async (c) => {
    await authorize(hook, c.req.raw, { action: "admin" });
    await tl.scheduler.remove(c.req.param("scheduleId"));
    return c.body(null, 204);
  });

  return app;
}
