import type { BaseEvent } from "@ag-ui/core";
import type { RunRecord } from "../core/types.js";

/** `340 ms`, `2.4 s`, `3 min 05 s`, `2 h 10 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** `just now`, `12 s ago`, `5 min ago`, `in 3 s`... */
export function formatRelative(at: number, now = Date.now()): string {
  const diff = at - now;
  const abs = Math.abs(diff);
  if (abs < 1500) return diff > 0 ? "now" : "just now";
  const text =
    abs < 60_000
      ? `${Math.round(abs / 1000)} s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 86_400_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

export function formatTime(at: number): string {
  return new Date(at).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** The time of day for today, with the date before it otherwise (`3 Mar, 14:02:09`). */
export function formatStamp(at: number, now = Date.now()): string {
  const d = new Date(at);
  if (d.toDateString() === new Date(now).toDateString()) return formatTime(at);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  const day = d.toLocaleDateString([], {
    day: "numeric",
    month: "short",
    ...(sameYear ? {} : { year: "numeric" }),
  });
  return `${day}, ${formatTime(at)}`;
}

/** Full local date and time, for tooltips and the run detail (`2024-03-03 14:02:09.123`). */
export function formatDateTime(at: number): string {
  const d = new Date(at);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
  );
}

/** How long a run took, or has been running. */
export function runDuration(run: RunRecord, now = Date.now()): string {
  if (run.startedAt === undefined) return run.status === "queued" ? "waiting" : "";
  return formatDuration((run.endedAt ?? now) - run.startedAt);
}

/** A one-line summary of an event for the raw log (the full JSON opens on demand). */
export function summarize(event: BaseEvent): string {
  const e = event as BaseEvent & Record<string, unknown>;
  switch (e.type) {
    case "TEXT_MESSAGE_CONTENT":
    case "TEXT_MESSAGE_CHUNK":
    case "TOOL_CALL_ARGS":
    case "REASONING_MESSAGE_CONTENT":
      return JSON.stringify(e.delta ?? "");
    case "RUN_STARTED": {
      const meta = (e.metadata as { threadline?: { trigger?: { kind?: string } } } | undefined)
        ?.threadline;
      return `${String(e.runId ?? "")}${meta?.trigger?.kind ? ` · ${meta.trigger.kind}` : ""}`;
    }
    case "RUN_FINISHED": {
      const outcome = (e.metadata as { threadline?: { outcome?: string } } | undefined)?.threadline
        ?.outcome;
      return `${String(e.runId ?? "")}${outcome ? ` · ${outcome}` : ""}`;
    }
    case "RUN_ERROR":
      return `${String(e.code ?? "")} ${String(e.message ?? "")}`.trim();
    case "TOOL_CALL_START":
      return String(e.toolCallName ?? "");
    case "MESSAGES_SNAPSHOT":
      return `${Array.isArray(e.messages) ? e.messages.length : 0} messages`;
    case "STATE_SNAPSHOT":
    case "STATE_DELTA":
      return clip(JSON.stringify(e.snapshot ?? e.delta ?? null), 80);
    default:
      return "";
  }
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `every 30 s` or `cron 0 9 * * 1-5 (Europe/Paris)`. */
export function describeTiming(s: { everyMs?: number; cron?: string; timezone?: string }): string {
  if (s.everyMs !== undefined) return `every ${formatDuration(s.everyMs)}`;
  return `cron ${s.cron ?? "?"}${s.timezone ? ` (${s.timezone})` : ""}`;
}
