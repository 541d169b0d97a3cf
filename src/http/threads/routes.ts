import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import {
  actorOf,
  checkMetadataWrite,
  claimThread,
  isAdmin,
  mayUseThread,
} from "../../core/access.js";
import { ThreadlineError } from "../../core/errors.js";
import { replayDefault } from "../../core/follow.js";
import {
  type Page,
  pageRuns,
  pageThreads,
  parseRunStatuses,
  parseTriggerKinds,
} from "../../core/listing.js";
import { checkRetentionMetadata } from "../../core/retention.js";
import type { ThreadSummary } from "../../core/types.js";
import {
  HEADER_EPOCH,
  HEADER_LAST_EVENT_ID,
  HEADER_REPLAY_MODE,
  HEADER_RESET,
  HEADER_THREAD_LAST_SEQ,
  QUERY_ACCESS_TOKEN,
  QUERY_AFTER,
  QUERY_EPOCH,
  QUERY_FOLLOW,
  QUERY_REPLAY,
  REPLAY_MODES,
  type ReplayMode,
} from "../../protocol.js";
import { ANY_READ, RouteTable, threadParam } from "../access/route-table.js";
import type { HttpDeps } from "../deps.js";
import { sseResponse } from "../sse.js";
import { batchBytes } from "../sse-frames.js";
import { streamOptions } from "../stream-options.js";
import { traceParentOf } from "../trace-context.js";
import {
  createThreadBodySchema,
  jsonBody,
  patchThreadBodySchema,
  pathId,
  startRunBodySchema,
} from "../validation.js";

function parseCursor(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,15}$/.test(value.trim())) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `${name} must be a non-negative integer (a seq), got '${value}'`,
    );
  }
  return Number(value.trim());
}

function parseBool(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined || value === "") return fallback;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new ThreadlineError("BAD_REQUEST", `${name} must be true or false, got '${value}'`);
}

function parseLimit(value: string | undefined, max: number, fallback: number): number {
  const n = parseCursor(value, "limit");
  return n === undefined ? fallback : Math.min(Math.max(n, 1), max);
}

/** `{ <name>: items, next? }`: `next` is the `offset` of the following page. */
const pageBody = <T>(name: string, page: Page<T>) => ({
  [name]: page.items,
  ...(page.next === undefined ? {} : { next: page.next }),
});

/** Native thread API: see README "HTTP API" and PROTOCOL.md. Access: PROTOCOL.md §7. */
export function threadRoutes(deps: HttpDeps): RouteTable {
  const routes = new RouteTable(deps.gate);
  const who = (c: Context) => deps.gate.principal(c.req.raw);

  routes.get("/threads", ANY_READ, async (c) => {
    const limit = parseLimit(c.req.query("limit"), 1000, 100);
    const offset = parseCursor(c.req.query("offset"), "offset") ?? 0;
    const q = c.req.query("q");
    const p = who(c);
    const visible = isAdmin(p) ? undefined : (t: ThreadSummary) => mayUseThread(p, t.threadId, t);
    return c.json(
      pageBody(
        "threads",
        await pageThreads(deps.store, {
          limit,
          offset,
          ...(q ? { q } : {}),
          ...(visible ? { visible } : {}),
        }),
      ),
    );
  });

  // The id is the body's (or a new one): the access rule needs it before the handler runs.
  const newThreadId = new WeakMap<Request, string>();
  routes.post(
    "/threads",
    async (c) => {
      const body = await jsonBody(c, createThreadBodySchema);
      const threadId = body.threadId ?? randomUUID();
      newThreadId.set(c.req.raw, threadId);
      return { kind: "thread", action: "write", threadId };
    },
    async (c) => {
      const body = await jsonBody(c, createThreadBodySchema);
      const threadId = newThreadId.get(c.req.raw) ?? randomUUID();
      checkRetentionMetadata(body.metadata);
      return c.json(await claimThread(deps.store, who(c), threadId, body.metadata), 201);
    },
  );

  routes.get("/threads/:threadId", threadParam("read"), async (c) => {
    const threadId = pathId(c, "threadId");
    const thread = await deps.store.threads.get(threadId);
    if (!thread) throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${threadId}'`);
    const activeRun = thread.activeRunId
      ? await deps.store.runs.get(threadId, thread.activeRunId)
      : null;
    return c.json({ ...thread, activeRun });
  });

  routes.patch("/threads/:threadId", threadParam("write"), async (c) => {
    const threadId = pathId(c, "threadId");
    const body = await jsonBody(c, patchThreadBodySchema);
    checkMetadataWrite(who(c), body.metadata);
    return c.json(await deps.updateThread(threadId, body));
  });

  routes.delete("/threads/:threadId", threadParam("write"), async (c) => {
    const threadId = pathId(c, "threadId");
    return c.json(await deps.deleteThread(threadId));
  });

  routes.get("/threads/:threadId/events", threadParam("read", { follow: true }), async (c) => {
    const threadId = pathId(c, "threadId");
    const after =
      parseCursor(c.req.header(HEADER_LAST_EVENT_ID), HEADER_LAST_EVENT_ID) ??
      parseCursor(c.req.query(QUERY_AFTER), QUERY_AFTER) ??
      0;
    const replayParam = c.req.query(QUERY_REPLAY);
    if (replayParam !== undefined && !REPLAY_MODES.includes(replayParam as ReplayMode)) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        `${QUERY_REPLAY} must be one of ${REPLAY_MODES.join(", ")}, got '${replayParam}'`,
      );
    }
    const replay = (replayParam as ReplayMode | undefined) ?? replayDefault(after);
    const live = parseBool(c.req.query(QUERY_FOLLOW), QUERY_FOLLOW, true);
    // No request.signal: a client that goes away cancels the body stream, which closes the
    // follow (and the signal would cost every idle follower an AbortController).
    const epoch = c.req.header(HEADER_EPOCH) ?? c.req.query(QUERY_EPOCH);
    const follow = deps.follow(threadId, {
      after,
      replay,
      live,
      weigh: batchBytes,
      ...(epoch ? { epoch } : {}),
    });
    await follow.open();
    const storeEpoch = deps.store.epoch;
    return sseResponse(
      follow,
      streamOptions(deps, {
        [HEADER_THREAD_LAST_SEQ]: String(follow.position),
        // A reset (PROTOCOL.md §2.9) is served as a compact replay, and says so.
        [HEADER_REPLAY_MODE]: follow.reset ? "compact" : replay,
        ...(follow.reset ? { [HEADER_RESET]: String(follow.reset.horizon) } : {}),
        ...(storeEpoch === undefined ? {} : { [HEADER_EPOCH]: storeEpoch }),
      }),
    );
  });

  // A signed, short-lived URL of the thread's follow stream, for clients that cannot send
  // headers (EventSource): the token in it follows this thread and nothing else.
  routes.post("/threads/:threadId/follow-url", threadParam("read"), async (c) => {
    const threadId = pathId(c, "threadId");
    if (!(await deps.store.threads.head(threadId))) {
      throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${threadId}'`);
    }
    const { token, expiresAt } = await deps.gate.auth.mintFollowToken(who(c), threadId);
    const path = `/threads/${encodeURIComponent(threadId)}/events?${QUERY_ACCESS_TOKEN}=${token}`;
    return c.json({ url: new URL(path, c.req.url).toString(), path, expiresAt }, 201);
  });

  routes.post("/threads/:threadId/runs", threadParam("write"), async (c) => {
    const threadId = pathId(c, "threadId");
    const body = await jsonBody(c, startRunBodySchema);
    const p = who(c);
    if (p.kind === "user") await claimThread(deps.store, p, threadId);
    const startedBy = actorOf(p);
    const traceparent = traceParentOf(c.req.raw);
    const result = await deps.startRun({
      ...(traceparent ? { traceparent } : {}),
      threadId,
      agentId: body.agentId,
      ...(body.runId ? { runId: body.runId } : {}),
      ...(startedBy ? { startedBy } : {}),
      multitask: body.multitask ?? "reject",
      trigger: body.trigger ?? { kind: "api" },
      input: {
        ...(body.messages ? { messages: body.messages } : {}),
        ...(body.state === undefined ? {} : { state: body.state }),
        ...(body.forwardedProps === undefined ? {} : { forwardedProps: body.forwardedProps }),
        ...(body.tools ? { tools: body.tools as never } : {}),
        ...(body.context ? { context: body.context as never } : {}),
        ...(body.history ? { history: body.history } : {}),
        ...(body.resume ? { resume: body.resume } : {}),
      },
    });
    return c.json(result, 202);
  });

  // PROTOCOL.md §3.1.5: answers one pending interrupt by starting the resume run.
  routes.get("/threads/:threadId/runs", threadParam("read"), async (c) => {
    const threadId = pathId(c, "threadId");
    const limit = parseLimit(c.req.query("limit"), 1000, 100);
    const offset = parseCursor(c.req.query("offset"), "offset") ?? 0;
    const status = parseRunStatuses(c.req.queries("status"));
    const trigger = parseTriggerKinds(c.req.queries("trigger"));
    if (!(await deps.store.threads.head(threadId))) {
      throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${threadId}'`);
    }
    return c.json(
      pageBody("runs", await pageRuns(deps.store, threadId, { limit, offset, status, trigger })),
    );
  });

  routes.get("/threads/:threadId/runs/:runId", threadParam("read"), async (c) => {
    const threadId = pathId(c, "threadId");
    const runId = pathId(c, "runId");
    const run = await deps.store.runs.get(threadId, runId);
    if (!run) throw new ThreadlineError("RUN_NOT_FOUND", `unknown run '${runId}' on '${threadId}'`);
    return c.json(run);
  });

  routes.post("/threads/:threadId/runs/:runId/cancel", threadParam("write"), async (c) => {
    const threadId = pathId(c, "threadId");
    const runId = pathId(c, "runId");
    const by = actorOf(who(c));
    return c.json(await deps.cancelRun(threadId, runId, by ? { by } : {}));
  });

  return routes;
}
