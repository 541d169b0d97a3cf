import { RunAgentInputSchema } from "@ag-ui/core";
import { z } from "zod";
import { clientRunInput } from "../../core/client-run.js";
import { connectOptions } from "../../core/connect-options.js";
import { ThreadlineError } from "../../core/errors.js";
import { isTerminalEvent } from "../../core/run-tracker.js";
import { FORWARDED_PROPS_KEY, HEADER_LAST_EVENT_ID, type ReplayMode } from "../../protocol.js";
import type { Threadline } from "../../threadline.js";
import { authorize } from "../auth.js";
import { SSE_HEADERS, sseResponse } from "../sse.js";
import { describeIssues, idSchema, multitaskSchema, parseWith } from "../validation.js";

/**
 * CopilotKit v2 wire protocol (the runtime's `/info`, `/agent/:id/run|connect|stop`), as its
 * `ProxiedCopilotRuntimeAgent` speaks it — see COMPAT.md. Logic stays in core; this only maps.
 */

const VERSION = "1.75.0";

const threadlineProps = z
  .looseObject({
    follow: z.boolean().optional(),
    multitask: multitaskSchema.optional(),
    replay: z.enum(["full", "compact", "none"]).optional(),
  })
  .optional();

function runInput(body: unknown) {
  const parsed = RunAgentInputSchema.safeParse(body);
  if (!parsed.success) {
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      `invalid RunAgentInput: ${describeIssues(parsed.error as never)}`,
    );
  }
  parseWith(idSchema, parsed.data.threadId, "threadId");
  const props = (parsed.data.forwardedProps ?? {}) as Record<string, unknown>;
  const tlProps = parseWith(
    threadlineProps,
    props[FORWARDED_PROPS_KEY],
    `forwardedProps.${FORWARDED_PROPS_KEY}`,
  );
  return { input: parsed.data, tlProps: tlProps ?? {} };
}

function requireAgent(tl: Threadline, agentId: string): void {
  if (!tl.coordinator.hasAgent(agentId)) {
    throw new ThreadlineError("AGENT_NOT_FOUND", `Agent '${agentId}' does not exist`, {
      details: { agents: tl.coordinator.agentIds() },
    });
  }
}

export function info(tl: Threadline): Record<string, unknown> {
  const agents: Record<string, unknown> = {};
  for (const id of tl.coordinator.agentIds()) {
    const source = tl.options.agents[id];
    const agent = typeof source === "function" ? undefined : source;
    agents[id] = {
      name: id,
      className: agent?.constructor.name ?? "Agent",
      description: agent?.description ?? "",
    };
  }
  return {
    version: VERSION,
    agents,
    audioFileTranscriptionEnabled: false,
    mode: "sse",
    threadEndpoints: { list: false, inspect: false, mutations: false, realtimeMetadata: false },
    telemetryDisabled: true,
    threadline: {
      protocol: 1,
      follow: true,
      connectFollowDefault: tl.options.connectFollowDefault ?? false,
    },
  };
}

/** `POST /agent/:agentId/run`: starts a client run and streams that run's events. */
export async function run(
  tl: Threadline,
  agentId: string,
  body: unknown,
  request: Request,
): Promise<Response> {
  requireAgent(tl, agentId);
  const { input, tlProps } = runInput(body);
  // The run must be addressable by the native routes (`/threads/:threadId/runs/:runId`).
  parseWith(idSchema, input.runId, "runId");
  const threadId = input.threadId;
  await authorize(tl.options.authorize, request, { threadId, action: "write" });
  await tl.store.ensureThread(threadId);
  const start = (await tl.store.getThread(threadId))?.lastSeq ?? 0;
  // Attach before starting, so none of the run's events can slip past.
  const follow = tl.follow(threadId, { after: start, replay: "full", signal: request.signal });
  await follow.open();
  let runId: string;
  try {
    ({ runId } = await tl.startRun({
      threadId,
      agentId,
      runId: input.runId,
      // A user's message waits for a scheduled run in progress rather than being refused.
      multitask: tlProps.multitask ?? "enqueue",
      trigger: { kind: "client" },
      input: clientRunInput(input),
    }));
  } catch (error) {
    follow.close();
    throw error;
  }
  return sseResponse(follow, {
    ...(tl.options.keepaliveMs === undefined ? {} : { keepaliveMs: tl.options.keepaliveMs }),
    filter: (item) => item.runId === runId,
    until: (item) => item.runId === runId && item.kind === "event" && isTerminalEvent(item.event),
  });
}

/**
 * `POST /agent/:agentId/connect`. A stock client gets what CopilotKit's runners give — the thread
 * as a snapshot, the run in progress, then the end of the stream — so it never hangs. A client
 * that asks to follow (`?follow=true` or `forwardedProps.threadline.follow`) stays attached;
 * `lastSeenEventId` (a seq) resumes after that cursor.
 */
export async function connect(
  tl: Threadline,
  agentId: string,
  body: unknown,
  request: Request,
  query: { follow?: string | undefined },
): Promise<Response> {
  requireAgent(tl, agentId);
  const raw = (body ?? {}) as Record<string, unknown>;
  const { input, tlProps } = runInput({
    runId: "connect",
    messages: [],
    tools: [],
    context: [],
    state: {},
    ...raw,
  });
  const threadId = input.threadId;
  await authorize(tl.options.authorize, request, { threadId, action: "read" });
  // Headers are what a CopilotKit runtime would forward to ThreadlineAgentRunner; the query and
  // forwardedProps are for clients talking to this server directly. Query wins, then props.
  const fromHeaders = connectOptions(
    Object.fromEntries(request.headers.entries()),
    tl.options.connectFollowDefault ?? false,
  );
  const followWanted =
    query.follow !== undefined
      ? query.follow === "true" || query.follow === "1"
      : (tlProps.follow ?? fromHeaders.follow);
  const cursorText = request.headers.get(HEADER_LAST_EVENT_ID) ?? raw.lastSeenEventId;
  const cursor =
    typeof cursorText === "string" && /^\d+$/.test(cursorText)
      ? Number(cursorText)
      : fromHeaders.after;
  const exists = await tl.store.getThread(threadId);
  const nothingNew =
    !exists || exists.lastSeq === 0 || (cursor !== undefined && cursor >= exists.lastSeq);
  if (!followWanted && nothingNew && !exists?.activeRunId) {
    // Nothing to replay and nothing running: CopilotKit's runners answer with an empty stream.
    return new Response("", { status: 200, headers: SSE_HEADERS });
  }
  if (!exists) await tl.store.ensureThread(threadId);
  const replay: ReplayMode =
    tlProps.replay ?? fromHeaders.replay ?? (cursor !== undefined ? "full" : "compact");
  const follow = tl.follow(threadId, {
    after: cursor ?? 0,
    replay,
    live: true,
    signal: request.signal,
  });
  await follow.open();
  const keepalive =
    tl.options.keepaliveMs === undefined ? {} : { keepaliveMs: tl.options.keepaliveMs };
  if (followWanted) return sseResponse(follow, keepalive);
  // Stock clients: end after the run in progress, or (idle) after what the log held at open.
  const now = await tl.store.getThread(threadId);
  const active = follow.activeRunAtOpen ?? now?.activeRunId ?? undefined;
  if (active) {
    return sseResponse(follow, {
      ...keepalive,
      until: (item) =>
        item.kind === "event" && item.runId === active && isTerminalEvent(item.event),
    });
  }
  const endSeq = now?.lastSeq ?? 0;
  if (follow.position >= endSeq && replay !== "compact") {
    follow.close();
    return new Response("", { status: 200, headers: SSE_HEADERS });
  }
  return sseResponse(follow, {
    ...keepalive,
    until: (item) =>
      item.seq >= endSeq &&
      (item.kind === "event" || (item.kind === "snapshot" && item.event.type === "RUN_FINISHED")),
  });
}

const stopBody = z.strictObject({ runId: idSchema.optional() });

/** `POST /agent/:agentId/stop/:threadId`: cancels the thread's active run. */
export async function stop(
  tl: Threadline,
  agentId: string,
  threadId: string,
  body: unknown,
  request: Request,
) {
  requireAgent(tl, agentId);
  parseWith(idSchema, threadId, "threadId");
  const { runId } = parseWith(stopBody, body ?? {}, "stop request");
  await authorize(tl.options.authorize, request, { threadId, action: "write" });
  const thread = await tl.store.getThread(threadId);
  const active = thread?.activeRunId;
  if (!active) return { stopped: false, message: `No active run for thread '${threadId}'.` };
  if (runId && runId !== active) {
    return {
      stopped: false,
      message: `Run '${runId}' is not the active run for thread '${threadId}'.`,
    };
  }
  await tl.cancelRun(threadId, active);
  return { stopped: true, runId: active };
}
