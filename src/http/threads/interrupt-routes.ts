import type { Context } from "hono";
import { z } from "zod";
import { actorOf, isAdmin } from "../../core/access.js";
import { ThreadlineError } from "../../core/errors.js";
import { ANSWER_STATUSES, checkLinkUse } from "../../core/interrupt-link.js";
import { resolveInterrupt, resolveInterruptBodySchema } from "../../core/resolve-interrupt.js";
import { RouteTable, threadParam } from "../access/route-table.js";
import type { HttpDeps } from "../deps.js";
import { traceParentOf } from "../trace-context.js";
import { jsonBody, pathId } from "../validation.js";

/** `POST /threads/:threadId/interrupts/:interruptId/link`'s body (PROTOCOL.md §3.1.10). */
const linkBodySchema = z.strictObject({
  statuses: z
    .array(z.enum(ANSWER_STATUSES as ["resolved", "cancelled"]))
    .min(1)
    .max(2)
    .optional(),
  sub: z.string().min(1).max(200).optional(),
  ttlMs: z.number().int().optional(),
});

/**
 * One interrupt of a thread (PROTOCOL.md §3.1.5, §3.1.10): read it, answer it, make a signed link
 * that answers it. The first two take that interrupt's link as their credential.
 */
export function interruptRoutes(deps: HttpDeps): RouteTable {
  const routes = new RouteTable(deps.gate);
  const who = (c: Context) => deps.gate.principal(c.req.raw);
  const interruptId = (c: Context) => c.req.param("interruptId") ?? "";

  // What a link's landing page shows (a GET never answers: mail scanners open links).
  routes.get(
    "/threads/:threadId/interrupts/:interruptId",
    threadParam("read", { interrupt: true }),
    async (c) => {
      const threadId = pathId(c, "threadId");
      const id = interruptId(c);
      const head = await deps.store.threads.head(threadId);
      const link = who(c).interruptOnly;
      if (link) checkLinkUse(link, head, undefined);
      if (!head) throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${threadId}'`);
      const interrupt = head.interrupts.find((i) => i.id === id);
      if (!interrupt) {
        throw new ThreadlineError(
          "INTERRUPT_NOT_FOUND",
          `thread '${threadId}' has no pending interrupt '${id}'`,
          { details: { pending: head.interrupts.map((i) => i.id) } },
        );
      }
      return c.json({
        threadId,
        interrupt,
        pending: head.interrupts.map((i) => i.id),
        ...(link
          ? { link: { statuses: link.statuses, ...(link.sub ? { sub: link.sub } : {}) } }
          : {}),
      });
    },
  );

  routes.post(
    "/threads/:threadId/interrupts/:interruptId",
    threadParam("write", { interrupt: true }),
    async (c) => {
      const threadId = pathId(c, "threadId");
      const body = await jsonBody(c, resolveInterruptBodySchema);
      const p = who(c);
      const link = p.interruptOnly;
      if (link) {
        // A link answers its one interrupt, by the thread's agent: nothing else.
        if (body.resume?.length || body.agentId !== undefined) {
          throw new ThreadlineError(
            "FORBIDDEN",
            "an interrupt link answers its interrupt only (no `resume` of others, no `agentId`)",
          );
        }
        checkLinkUse(link, await deps.store.threads.head(threadId), body.status);
      }
      const startedBy = actorOf(p);
      const traceparent = traceParentOf(c.req.raw);
      const result = await resolveInterrupt(
        { store: deps.store, startRun: (req) => deps.startRun(req) },
        {
          ...body,
          threadId,
          interruptId: interruptId(c),
          ...(link ? { source: "interrupt-link" } : {}),
          ...(startedBy ? { startedBy } : {}),
          ...(traceparent ? { traceparent } : {}),
        },
      );
      return c.json(result, 202);
    },
  );

  // Not the interrupt's own route: a link cannot make links.
  routes.post(
    "/threads/:threadId/interrupts/:interruptId/link",
    threadParam("write"),
    async (c) => {
      const threadId = pathId(c, "threadId");
      const body = await jsonBody(c, linkBodySchema);
      const p = who(c);
      // Only the static token (or an open server) names someone else; a user's link is its own.
      if (body.sub !== undefined && !isAdmin(p) && body.sub !== p.id) {
        throw new ThreadlineError(
          "FORBIDDEN",
          "only the static token may make a link for another `sub`",
        );
      }
      const sub = body.sub ?? (p.kind === "user" ? p.id : undefined);
      const link = await deps.interruptLink({
        threadId,
        interruptId: interruptId(c),
        ...(body.statuses ? { statuses: body.statuses } : {}),
        ...(sub === undefined ? {} : { sub }),
        ...(body.ttlMs === undefined ? {} : { ttlMs: body.ttlMs }),
      });
      return c.json({ ...link, url: new URL(link.path, c.req.url).toString() }, 201);
    },
  );

  return routes;
}
