import type { Context } from "hono";
import { z } from "zod";
import { ThreadlineError } from "../../core/errors.js";
import type { Access } from "../access/gate.js";
import { ANY_READ, RouteTable, threadParam } from "../access/route-table.js";
import type { HttpDeps } from "../deps.js";
import { idSchema, jsonBody, parseWith, pathId } from "../validation.js";
import { connect, info, run, stop } from "./handlers.js";

const envelope = z.looseObject({
  method: z.string({ error: "Missing method field" }),
  params: z.record(z.string(), z.unknown()).optional(),
  body: z.unknown().optional(),
});

/** The thread a run or connect body (`RunAgentInput`) names. */
function bodyThread(body: unknown, action: "read" | "write"): Access {
  const threadId = (body as { threadId?: unknown } | null)?.threadId;
  return { kind: "thread", action, threadId: parseWith(idSchema, threadId, "threadId") };
}

const threadInBody =
  (action: "read" | "write") =>
  async (c: Context): Promise<Access> =>
    bodyThread(await jsonBody(c, z.unknown()), action);

/** What a single-route request needs: its method's thread, from its body or params. */
async function envelopeAccess(c: Context): Promise<Access> {
  const env = await jsonBody(c, envelope);
  switch (env.method) {
    case "agent/run":
      return bodyThread(env.body, "write");
    case "agent/connect":
      return bodyThread(env.body, "read");
    case "agent/stop":
      return {
        kind: "thread",
        action: "write",
        threadId: parseWith(idSchema, env.params?.threadId, "parameter 'threadId'"),
      };
    default:
      return ANY_READ; // `info`, or a method the handler refuses
  }
}

/**
 * CopilotKit v2 routes: multi-route (`/info`, `/agent/:id/run|connect|stop/:threadId`) and the
 * single-route envelope (`POST /` with `{ method, params, body }`), so a CopilotKit frontend can
 * point its `runtimeUrl` at Threadline directly.
 */
export function copilotkitRoutes(deps: HttpDeps): RouteTable {
  const routes = new RouteTable(deps.gate);

  routes.get("/info", ANY_READ, (c) => c.json(info(deps)));
  routes.post("/info", ANY_READ, (c) => c.json(info(deps)));

  routes.post("/agent/:agentId/run", threadInBody("write"), async (c) =>
    run(deps, c.req.param("agentId"), await jsonBody(c, z.unknown()), c.req.raw),
  );
  routes.post("/agent/:agentId/connect", threadInBody("read"), async (c) =>
    connect(deps, c.req.param("agentId"), await jsonBody(c, z.unknown()), c.req.raw, {
      follow: c.req.query("follow"),
    }),
  );
  routes.post("/agent/:agentId/stop/:threadId", threadParam("write"), async (c) =>
    c.json(
      await stop(
        deps,
        c.req.param("agentId") ?? "",
        pathId(c, "threadId"),
        await jsonBody(c, z.unknown()),
        c.req.raw,
      ),
    ),
  );

  routes.post("/", envelopeAccess, async (c) => {
    const env = await jsonBody(c, envelope);
    const params = env.params ?? {};
    const agentId = () => parseWith(z.string().min(1), params.agentId, "parameter 'agentId'");
    switch (env.method) {
      case "info":
        return c.json(info(deps));
      case "agent/run":
        return run(deps, agentId(), env.body, c.req.raw);
      case "agent/connect":
        return connect(deps, agentId(), env.body, c.req.raw, { follow: c.req.query("follow") });
      case "agent/stop":
        return c.json(
          await stop(
            deps,
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

  return routes;
}
