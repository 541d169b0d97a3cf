import type { Logger } from "../core/logger.js";
import type { RunEnd, Telemetry } from "../core/telemetry.js";
import type { RunRecord } from "../core/types.js";

/**
 * One structured log line per run transition (`run queued`, `run started`, `run ended`), with
 * the thread, run, agent, trigger and principal; an ended line has the status, the error code,
 * the duration and the number of events. Failed and interrupted runs log at `warn`.
 */
export function runLog(logger: Logger): Telemetry {
  const base = (run: RunRecord) => ({
    threadId: run.threadId,
    runId: run.runId,
    agentId: run.agentId,
    trigger: run.trigger.kind,
    ...(run.startedBy ? { startedBy: `${run.startedBy.kind}:${run.startedBy.id}` } : {}),
  });
  return {
    runQueued(run) {
      logger.info({ ...base(run), transition: "queued" }, "run queued");
    },
    runStarted(run, at) {
      logger.info(
        { ...base(run), transition: "started", queueWaitMs: Math.max(0, at - run.createdAt) },
        "run started",
      );
    },
    runEnded(run: RunRecord, end: RunEnd) {
      const line = {
        ...base(run),
        transition: "ended",
        status: end.status,
        ...(end.errorCode ? { errorCode: end.errorCode } : {}),
        ...(run.startedAt === undefined ? {} : { durationMs: Math.max(0, end.at - run.startedAt) }),
        ...(end.events === undefined ? {} : { events: end.events }),
      };
      if (end.status === "failed" || end.status === "interrupted") logger.warn(line, "run ended");
      else logger.info(line, "run ended");
    },
  };
}
