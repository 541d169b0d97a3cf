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
import type { HttpDeps } from "../deps.js";
import { SSE_HEADERS, sseResponse } from "../sse.js";
import { batchBytes } from "../sse-frames.js";
import { streamOptions } from "../stream-options.js";
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

function requireAgent(deps: HttpDeps, agentId: string): void {
  if (!deps.agents.has(agentId)) {
    throw new ThreadlineError("AGENT_NOT_FOUND", `Agent '${agentId}' does not exist`, {
      details: { agents: deps.agents.ids() },
    });
  }
}

/** The policy's dependencies, acting for `p`: runs it starts or cancels record it. */
function policyDeps(deps: HttpDeps, p: Principal, request?: Request): CopilotDeps {
  const actor = actorOf(p);
  const traceparent = request ? traceParentOf(request) : undefined;
  return {
    store: deps.store,
    follow: (threadId, opts) => deps.follow(threadId, { ...opts, weigh: batchBytes }),
    startRun: (req) =>
      deps.startRun({
        ...req,
        ...(actor ? { startedBy: actor } : {}),
        ...(traceparent ? { traceparent } : {}),
      }),
    cancelRun: (threadId, runId) => deps.cancelRun(threadId, runId, actor ? { by: actor } : {}),
  };
}

export function info(deps: HttpDeps): Record<string, unknown> {
  const agents: Record<string, unknown> = {};
  for (const id of deps.agents.ids()) agents[id] = deps.agents.describe(id);
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
  deps: HttpDeps,
  agentId: string,
  body: unknown,
  request: Request,
): Promise<Response> {
  requireAgent(deps, agentId);
  const input = runInput(body);
  // The run must be addressable by the native routes (`/threads/:threadId/runs/:runId`).
  parseWith(idSchema, input.runId, "runId");
  const threadId = input.threadId;
  const p = deps.gate.principal(request);
  if (p.kind === "user") await claimThread(deps.store, p, threadId);
  // A user's message waits for a scheduled run in progress rather than being refused.
  const multitask = runMultitask(input.forwardedProps, "enqueue");
  const d = policyDeps(deps, p, request);
  const { runId, after } = await startClientRun(d, { threadId, agentId, input, multitask });
  const stream = await openRunStream(d, { threadId, runId, after, signal: request.signal });
  return sseResponse(stream, streamOptions(deps));
}

/**
 * `POST /agent/:agentId/connect`: the thread and the runs busy on it, then the end (a stock
 * client), or the thread for as long as the client stays (`?follow=true`,
 * `forwardedProps.threadline.follow`, `X-Threadline-Follow`). See `openConnectStream`.
 */
export async function connect(
  deps: HttpDeps,
  agentId: string,
  body: unknown,
  request: Request,
  query: { follow?: string | undefined },
): Promise<Response> {
  requireAgent(deps, agentId);
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
  const p = deps.gate.principal(request);
  const req = connectRequest({
    headers: Object.fromEntries(request.headers.entries()),
    queryFollow: query.follow,
    forwardedProps: input.forwardedProps,
    lastSeenEventId: raw.lastSeenEventId,
  });
  // Following a thread that does not exist yet creates it: then it is the user's.
  if (req.follow && p.kind === "user" && !(await deps.store.threads.head(threadId))) {
    await claimThread(deps.store, p, threadId);
  }
  const stream = await openConnectStream(policyDeps(deps, p), threadId, req, request.signal);
  // Nothing to replay and nothing running: CopilotKit's runners answer with an empty stream.
  if (!stream) return new Response("", { status: 200, headers: SSE_HEADERS });
  return sseResponse(stream, streamOptions(deps));
}

const stopBody = z.strictObject({ runId: idSchema.optional() });

/** `POST /agent/:agentId/stop/:threadId`: cancels the thread's run (running or queued). */
export async function stop(
  deps: HttpDeps,
  agentId: string,
  threadId: string,
  body: unknown,
  request: Request,
) {
  requireAgent(deps, agentId);
  parseWith(idSchema, threadId, "threadId");
  const { runId } = parseWith(stopBody, body ?? {}, "stop request");
  return stopRun(policyDeps(deps, deps.gate.principal(request)), threadId, runId);
}
