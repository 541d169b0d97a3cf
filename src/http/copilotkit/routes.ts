import { Hono } from "hono";
import { z } from "zod";
import { ThreadlineError } from "../../core/errors.js";
import type { Threadline } from "../../threadline.js";
import { authorize } from "../auth.js";
import { jsonBody, parseWith } from "../validation.js";
import { connect, info, run, stop } from "./handlers.js";

const envelope = z.looseObject({
  method: z.string({ error: "Missing method field" }),
  params: z.record(z.string(), z.unknown()).optional(),
  body: z.unknown().optional(),
});

/**
 * CopilotKit v2 routes: multi-route (`/info`, `/agent/:id/run|connect|stop/:threadId`) and the
 * single-route envelope (`POST /` with `{ method, params, body }`), so a CopilotKit frontend can
 * point its `runtimeUrl` at Threadline directly.
 */
export function copilotkitRoutes(tl: Threadline): Hono {
  const app = new Hono();

  app.get("/info", async (c) => {
    await authorize(tl.options.authorize, c.req.raw, { action: "read" });
    return c.json(info(tl));
  });
  app.post("/info", async (c) => {
    await authorize(tl.options.authorize, c.req.raw, { action: "read" });
    return c.json(info(tl));
  });

  app.post("/agent/:agentId/run", async (c) =>
    run(tl, c.req.param("agentId"), await jsonBody(c, z.unknown()), c.req.raw),
  );
  app.post("/agent/:agentId/connect", async (c) =>
    connect(tl, c.req.param("agentId"), await jsonBody(c, z.unknown()), c.req.raw, {
      follow: c.req.query("follow"),
    }),
  );
  app.post("/agent/:agentId/stop/:threadId", async (c) =>
    c.json(
      await stop(
        tl,
        c.req.param("agentId"),
        c.req.param("threadId"),
        await jsonBody(c, z.unknown()),
        c.req.raw,
      ),
    ),
  );

  app.post("/", async (c) => {
    const env = await jsonBody(c, envelope);
    const params = env.params ?? {};
    const agentId = () => parseWith(z.string().min(1), params.agentId, "parameter 'agentId'");
    switch (env.method) {
      case "info":
        await authorize(tl.options.authorize, c.req.raw, { action: "read" });
        return c.json(info(tl));
      case "agent/run":
        return run(tl, agentId(), env.body, c.req.raw);
      case "agent/connect":
        return connect(tl, agentId(), env.body, c.req.raw, { follow: c.req.query("follow") });
      case "agent/stop":
        return c.json(
          await stop(
            tl,
            agentId(),
            parseWith(z.string().min(1), params.threadId, "parameter 'threadId'"),
            env.body ?? {},
            c.req.raw,
          ),
        );
      default:
        throw new ThreadlineError("BAD_REQUEST", `Unsupported method '${env.method}'`);
    }
  });

  return app;
}
