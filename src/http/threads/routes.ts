import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { ThreadlineError } from "../../core/errors.js";
import {
  type Page,
  pageRuns,
  pageThreads,
  parseRunStatuses,
  parseTriggerKinds,
} from "../../core/listing.js";
import {
  HEADER_EPOCH,
  HEADER_LAST_EVENT_ID,
  HEADER_REPLAY_MODE,
  HEADER_THREAD_LAST_SEQ,
  QUERY_AFTER,
  QUERY_EPOCH,
  QUERY_FOLLOW,
  QUERY_REPLAY,
  REPLAY_MODES,
  type ReplayMode,
} from "../../protocol.js";
import type { Threadline } from "../../threadline.js";
import { authorize } from "../auth.js";
import { sseResponse } from "../sse.js";
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

/** Native thread API: see README "HTTP API" and PROTOCOL.md. */
export function threadRoutes(tl: Threadline): Hono {
  const app = new Hono();
  const hook = tl.options.authorize;

  app.get("/threads", async (c) => {
    await authorize(hook, c.req.raw, { action: "read" });
    const limit = parseLimit(c.req.query("limit"), 1000, 100);
    const offset = parseCursor(c.req.query("offset"), "offset") ?? 0;
    const q = c.req.query("q");
    return c.json(
      pageBody("threads", await pageThreads(tl.store, { limit, offset, ...(q ? { q } : {}) })),
    );
  });

  app.post("/threads", async (c) => {
    const body = await jsonBody(c, createThreadBodySchema);
    const threadId = body.threadId ?? randomUUID();
    await authorize(hook, c.req.raw, { threadId, action: "write" });
    return c.json(await tl.store.threads.ensure(threadId, body.metadata), 201);
  });

  app.get("/threads/:threadId", async (c) => {
    const threadId = pathId(c, "threadId");
    await authorize(hook, c.req.raw, { threadId, action: "read" });
    const thread = await tl.store.threads.get(threadId);
    if (!thread) throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${threadId}'`);
    const activeRun = thread.activeRunId
      ? await tl.store.runs.get(threadId, thread.activeRunId)
      : null;
    return c.json({ ...thread, activeRun });
  });

  app.patch("/threads/:threadId", async (c) => {
    const threadId = pathId(c, "threadId");
    const body = await jsonBody(c, patchThreadBodySchema);
    await authorize(hook, c.req.raw, { threadId, action: "write" });
    return c.json(await tl.updateThread(threadId, body));
  });

  app.delete("/threads/:threadId", async (c) => {
    const threadId = pathId(c, "threadId");
    await authorize(hook, c.req.raw, { threadId, action: "write" });
    return c.json(await tl.deleteThread(threadId));
  });

  app.get("/threads/:threadId/events", async (c) => {
    const threadId = pathId(c, "threadId");
    await authorize(hook, c.req.raw, { threadId, action: "read" });
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
    const replay = (replayParam as ReplayMode | undefined) ?? (after === 0 ? "compact" : "full");
    const live = parseBool(c.req.query(QUERY_FOLLOW), QUERY_FOLLOW, true);
    // No request.signal: a client that goes away cancels the body stream, which closes the
    // follow (and the signal would cost every idle follower an AbortController).
    const epoch = c.req.header(HEADER_EPOCH) ?? c.req.query(QUERY_EPOCH);
    const follow = tl.follow(threadId, { after, replay, live, ...(epoch ? { epoch } : {}) });
    await follow.open();
    const storeEpoch = tl.store.epoch;
    return sseResponse(follow, {
      ...(tl.options.keepaliveMs === undefined ? {} : { keepaliveMs: tl.options.keepaliveMs }),
      ...(tl.options.followerWriteTimeoutMs === undefined
        ? {}
        : { writeTimeoutMs: tl.options.followerWriteTimeoutMs }),
      headers: {
        [HEADER_THREAD_LAST_SEQ]: String(follow.position),
        [HEADER_REPLAY_MODE]: replay,
        ...(storeEpoch === undefined ? {} : { [HEADER_EPOCH]: storeEpoch }),
      },
    });
  });

  app.post("/threads/:threadId/runs", async (c) => {
    const threadId = pathId(c, "threadId");
    const body = await jsonBody(c, startRunBodySchema);
    await authorize(hook, c.req.raw, { threadId, action: "write" });
    const result = await tl.startRun({
      threadId,
      agentId: body.agentId,
      ...(body.runId ? { runId: body.runId } : {}),
      multitask: body.multitask ?? "reject",
      trigger: body.trigger ?? { kind: "api" },
      input: {
        ...(body.messages ? { messages: body.messages } : {}),
        ...(body.state === undefined ? {} : { state: body.state }),
        ...(body.forwardedProps === undefined ? {} : { forwardedProps: body.forwardedProps }),
        ...(body.tools ? { tools: body.tools as never } : {}),
        ...(body.context ? { context: body.context as never } : {}),
      },
    });
    return c.json(result, 202);
  });

  app.get("/threads/:threadId/runs", async (c) => {
    const threadId = pathId(c, "threadId");
    await authorize(hook, c.req.raw, { threadId, action: "read" });
    const limit = parseLimit(c.req.query("limit"), 1000, 100);
    const offset = parseCursor(c.req.query("offset"), "offset") ?? 0;
    const status = parseRunStatuses(c.req.queries("status"));
    const trigger = parseTriggerKinds(c.req.queries("trigger"));
    if (!(await tl.store.threads.head(threadId))) {
      throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${threadId}'`);
    }
    return c.json(
      pageBody("runs", await pageRuns(tl.store, threadId, { limit, offset, status, trigger })),
    );
  });

  app.get("/threads/:threadId/runs/:runId", async (c) => {
    const threadId = pathId(c, "threadId");
    const runId = pathId(c, "runId");
    await authorize(hook, c.req.raw, { threadId, action: "read" });
    const run = await tl.store.runs.get(threadId, runId);
    if (!run) throw new ThreadlineError("RUN_NOT_FOUND", `unknown run '${runId}' on '${threadId}'`);
    return c.json(run);
  });

  app.post("/threads/:threadId/runs/:runId/cancel", async (c) => {
    const threadId = pathId(c, "threadId");
    const runId = pathId(c, "runId");
    await authorize(hook, c.req.raw, { threadId, action: "write" });
    return c.json(await tl.cancelRun(threadId, runId));
  });

  return app;
}
