import type { AbstractAgent } from "@ag-ui/client";
import { type BaseEvent, EventType, type RunAgentInput } from "@ag-ui/core";
import { METADATA_KEY, RUN_ERROR_INTERRUPTED } from "../../protocol.js";
import { clientRunInput } from "../client-run.js";
import type { StartRunRequest, StartRunResult } from "../coordinator.js";
import type { Follow, FollowOptions } from "../follow.js";
import type { ThreadStore } from "../store.js";
import type { MultitaskStrategy, RunRecord } from "../types.js";
import { StreamPlan } from "./plan.js";
import type { ConnectRequest } from "./requests.js";
import { CopilotStream } from "./stream.js";

/**
 * CopilotKit's run / connect / stop, decided once for Threadline's own CopilotKit routes
 * (`src/http/copilotkit`) and for `ThreadlineAgentRunner` (`src/copilotkit`): both call these
 * and only translate the result (SSE frames, an Observable, a JSON answer, a boolean).
 */
export interface CopilotDeps {
  store: ThreadStore;
  follow(threadId: string, opts: FollowOptions): Follow;
  startRun(req: StartRunRequest): Promise<StartRunResult>;
  cancelRun(threadId: string, runId: string): Promise<RunRecord>;
}

/** How many of a thread's newest runs are looked at for queued ones. */
const PENDING_SCAN = 100;

const isPending = (run: RunRecord) => run.status === "queued" || run.status === "running";

/**
 * The thread's runs that are running or queued: a thread with any is busy. Runs are read before
 * the thread, so a run that ends between the two reads is in `lastSeq` if not in `pending`.
 * (Queued runs older than the newest `PENDING_SCAN` runs — possible only behind a long chain of
 * interrupting runs — are not seen.)
 */
export async function busyState(
  store: ThreadStore,
  threadId: string,
): Promise<{ pending: RunRecord[]; lastSeq: number }> {
  const runs = await store.runs.list(threadId, { limit: PENDING_SCAN });
  const thread = await store.threads.head(threadId);
  const pending = runs.filter(isPending);
  const active = thread?.activeRunId;
  if (active && !pending.some((r) => r.runId === active)) {
    const run = await store.runs.get(threadId, active);
    if (run && isPending(run)) pending.unshift(run);
  }
  return { pending, lastSeq: thread?.lastSeq ?? 0 };
}

export interface ClientRunRequest {
  threadId: string;
  agentId: string;
  /** The agent instance to execute (the runner's per-request clone); else the registry's. */
  agent?: AbstractAgent;
  input: RunAgentInput;
  multitask: MultitaskStrategy;
}

/**
 * Accepts a client's run (trigger `client`). Resolves once the run is in the store — queued or
 * already running — so it is busy, visible to every connect and stoppable from then on.
 * `after` is a log position at or before the run's first event, where its stream starts.
 */
export async function startClientRun(
  deps: CopilotDeps,
  req: ClientRunRequest,
): Promise<{ runId: string; after: number }> {
  const { lastSeq: after } = await deps.store.threads.ensure(req.threadId);
  const ownId = await clientRunId(deps, req);
  const { runId } = await deps.startRun({
    threadId: req.threadId,
    agentId: req.agentId,
    ...(req.agent ? { agent: req.agent } : {}),
    ...(ownId === undefined ? {} : { runId: ownId }),
    multitask: req.multitask,
    trigger: { kind: "client" },
    input: clientRunInput(req.input),
  });
  return { runId, after };
}

/**
 * The id a client's run gets: the one it sent, except for a resume naming a run the thread
 * already has (PROTOCOL.md §3.1.9). CopilotKit's `useInterrupt` (react-core 1.74) resumes with
 * the id of the run that asked (`runAgent({ resume, runId })`), while in AG-UI the answer is a
 * new run and here a run id names one run: that resume gets a fresh id instead of a CONFLICT.
 */
async function clientRunId(deps: CopilotDeps, req: ClientRunRequest): Promise<string | undefined> {
  const { runId, resume } = req.input;
  if (!resume?.length || !runId) return runId;
  return (await deps.store.runs.get(req.threadId, runId)) ? undefined : runId;
}

/** The stream of one client run: its events, to its terminal event. */
export async function openRunStream(
  deps: CopilotDeps,
  opts: { threadId: string; runId: string; after: number; signal?: AbortSignal },
): Promise<CopilotStream> {
  const { threadId, runId } = opts;
  const follow = deps.follow(threadId, {
    after: opts.after,
    replay: "full",
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  try {
    await follow.open();
  } catch (error) {
    follow.close();
    throw error;
  }
  return new CopilotStream(follow, StreamPlan.run(runId), deps.store, (run) =>
    silentRunEnding(threadId, runId, run),
  );
}

/**
 * The stream of a connect. Following (the client asked): the replay, then every run, for as long
 * as the client stays. Otherwise what CopilotKit's runners give, without their gap: the replay,
 * then every run that was active or queued when the connect looked — however early it came,
 * before the run was claimed or wrote anything — to its terminal event, then the end. Null: an
 * empty stream (nothing to replay, nothing running).
 */
export async function openConnectStream(
  deps: CopilotDeps,
  threadId: string,
  req: ConnectRequest,
  signal?: AbortSignal,
): Promise<CopilotStream | null> {
  const thread = await deps.store.threads.head(threadId);
  // No thread: no run was ever accepted on it (accepting one creates it).
  if (!thread && !req.follow) return null;
  if (!thread) await deps.store.threads.ensure(threadId);
  const follow = deps.follow(threadId, {
    after: req.after ?? 0,
    replay: req.replay,
    live: true,
    ...(signal ? { signal } : {}),
  });
  try {
    await follow.open();
    if (req.follow) return new CopilotStream(follow, StreamPlan.follow(), deps.store);
    // Read after attaching: a run busy now ends in this stream; a run accepted before this
    // connect is busy now, or already ended and then inside `lastSeq`.
    const { pending, lastSeq } = await busyState(deps.store, threadId);
    const runs = new Set(pending.map((r) => r.runId));
    if (follow.activeRunAtOpen) runs.add(follow.activeRunAtOpen);
    const plan = StreamPlan.connect({
      pending: runs,
      endSeq: lastSeq,
      // A compact replay starts with a snapshot of everything up to its cursor.
      start: req.replay === "compact" ? 0 : follow.position,
    });
    if (plan.done) {
      follow.close();
      return null;
    }
    return new CopilotStream(follow, plan, deps.store);
  } catch (error) {
    follow.close();
    throw error;
  }
}

export type StopResult = { stopped: true; runId: string } | { stopped: false; message: string };

/**
 * CopilotKit's stop: the given run while it is queued or running; without a run id, the thread's
 * running run, else the queued run that would start next.
 */
export async function stopRun(
  deps: CopilotDeps,
  threadId: string,
  runId?: string,
): Promise<StopResult> {
  let target: string | undefined;
  if (runId !== undefined) {
    const run = await deps.store.runs.get(threadId, runId);
    if (!run || !isPending(run)) {
      return { stopped: false, message: `Run '${runId}' is not running on thread '${threadId}'.` };
    }
    target = runId;
  } else {
    const { pending } = await busyState(deps.store, threadId);
    target = (pending.find((r) => r.status === "running") ?? pending.at(-1))?.runId;
    if (!target) return { stopped: false, message: `No active run for thread '${threadId}'.` };
  }
  const after = await deps.cancelRun(threadId, target);
  if (after.status === "cancelled" || (after.status === "running" && after.cancelRequested)) {
    return { stopped: true, runId: target };
  }
  return { stopped: false, message: `Run '${target}' had already ended.` };
}

/** What a client run's own stream shows when the run ended without a trace in the log. */
function silentRunEnding(threadId: string, runId: string, run: RunRecord | null): BaseEvent[] {
  const started = { type: EventType.RUN_STARTED, threadId, runId } as BaseEvent;
  if (run?.status === "cancelled") {
    return [
      started,
      {
        type: EventType.RUN_FINISHED,
        threadId,
        runId,
        metadata: {
          [METADATA_KEY]: { outcome: "cancelled", reason: "cancelled before it started" },
        },
      } as BaseEvent,
    ];
  }
  const error = run?.error ?? {
    code: run ? RUN_ERROR_INTERRUPTED : "RUN_NOT_FOUND",
    message: run ? "the run ended before it started" : `run '${runId}' no longer exists`,
  };
  return [started, { type: EventType.RUN_ERROR, ...error } as BaseEvent];
}
