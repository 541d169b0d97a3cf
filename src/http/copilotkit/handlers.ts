import { RunAgentInputSchema } from "@ag-ui/core";
import { z } from "zod";
import { actorOf, claimThread, type Principal } from "../../core/access.js";
import {
  type CopilotDeps,
  openConnectStream,
  openRunStream,
  startClientRun,
  stopRun,
} from "../../core/copilotkit/policy.js";
import { connectRequest, runMultitask } from "../../core/copilotkit/requests.js";
import { ThreadlineError } from "../../core/errors.js";
import type { Threadline } from "../../threadline.js";
import { SSE_HEADERS, sseResponse } from "../sse.js";
import { batchBytes } from "../sse-frames.js";
import { traceParentOf } from "../trace-context.js";
import { describeIssues, idSchema, parseWith } from "../validation.js";

/**
 * CopilotKit v2 wire protocol (the runtime's `/info`, `/agent/:id/run|connect|stop`), as its
 * `ProxiedCopilotRuntimeAgent` speaks it — see COMPAT.md. What each stream shows and when it
 * ends is decided in `core/copilotkit/policy.ts` (shared with ThreadlineAgentRunner); this only
 * maps requests and answers.
 */

const VERSION = "1.75.0";

function runInput(body: unknown) {
  const parsed = RunAgentInputSchema.safeParse(body);
  if (!parsed.success) {
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      `invalid RunAgentInput: ${describeIssues(parsed.error as never)}`,
    );
  }
  parseWith(idSchema, parsed.data.threadId, "threadId");
  return parsed.data;
}

function requireAgent(tl: Threadline, agentId: string): void {
  if (!tl.coordinator.hasAgent(agentId)) {
    throw new ThreadlineError("AGENT_NOT_FOUND", `Agent '${agentId}' does not exist`, {
      details: { agents: tl.coordinator.agentIds() },
    });
  }
}

/** The policy's dependencies, acting for `p`: runs it starts or cancels record it. */
function deps(tl: Threadline, p: Principal, request?: Request): CopilotDeps {
  const actor = actorOf(p);
  const traceparent = request ? traceParentOf(request) : undefined;
  return {
    store: tl.store,
    follow: (threadId, opts) => tl.follow(threadId, { ...opts, weigh: batchBytes }),
    startRun: (req) =>
      tl.startRun({
        ...req,
        ...(actor ? { startedBy: actor } : {}),
        ...(traceparent ? { traceparent } : {}),
      }),
    cancelRun: (threadId, runId) => tl.cancelRun(threadId, runId, actor ? { by: actor } : {}),
  };
}

const keepalive = (tl: Threadline) => ({
  telemetry: tl.telemetry,
  ...(tl.options.keepaliveMs === undefined ? {} : { keepaliveMs: tl.options.keepaliveMs }),
  ...(tl.options.followerWriteTimeoutMs === undefined
    ? {}
    : { writeTimeoutMs: tl.options.followerWriteTimeoutMs }),
});

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
    threadline: { protocol: 1, follow: true },
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
  const input = runInput(body);
  // The run must be addressable by the native routes (`/threads/:threadId/runs/:runId`).
  parseWith(idSchema, input.runId, "runId");
  const threadId = input.threadId;
  const p = tl.gate.principal(request);
  if (p.kind === "user") await claimThread(tl.store, p, threadId);
  // A user's message waits for a scheduled run in progress rather than being refused.
  const multitask = runMultitask(input.forwardedProps, "enqueue");
  const d = deps(tl, p, request);
  const { runId, after } = await startClientRun(d, { threadId, agentId, input, multitask });
  const stream = await openRunStream(d, { threadId, runId, after, signal: request.signal });
  return sseResponse(stream, keepalive(tl));
}

/**
 * `POST /agent/:agentId/connect`: the thread and the runs busy on it, then the end (a stock
 * client), or the thread for as long as the client stays (`?follow=true`,
 * `forwardedProps.threadline.follow`, `X-Threadline-Follow`). See `openConnectStream`.
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
  const input = runInput({
    runId: "connect",
    messages: [],
    tools: [],
    context: [],
    state: {},
    ...raw,
  });
  const threadId = input.threadId;
  const p = tl.gate.principal(request);
  const req = connectRequest({
    headers: Object.fromEntries(request.headers.entries()),
    queryFollow: query.follow,
    forwardedProps: input.forwardedProps,
    lastSeenEventId: raw.lastSeenEventId,
  });
  // Following a thread that does not exist yet creates it: then it is the user's.
  if (req.follow && p.kind === "user" && !(await tl.store.threads.head(threadId))) {
    await claimThread(tl.store, p, threadId);
  }
  const stream = await openConnectStream(deps(tl, p), threadId, req, request.signal);
  // Nothing to replay and nothing running: CopilotKit's runners answer with an empty stream.
  if (!stream) return new Response("", { status: 200, headers: SSE_HEADERS });
  return sseResponse(stream, keepalive(tl));
}

const stopBody = z.strictObject({ runId: idSchema.optional() });

/** `POST /agent/:agentId/stop/:threadId`: cancels the thread's run (running or queued). */
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
  return stopRun(deps(tl, tl.gate.principal(request)), threadId, runId);
}
