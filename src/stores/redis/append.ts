import { randomUUID } from "node:crypto";
import type { BaseEvent } from "@ag-ui/core";
import { ThreadlineError } from "../../core/errors.js";
import { errorOfTerminal, statusOfTerminal } from "../../core/store.js";
import type { EventRecord, Fence, ViewUpdate } from "../../core/types.js";
import type { RedisEpoch } from "./epoch.js";
import type { RedisKeys } from "./keys.js";
import { APPEND } from "./lua-append.js";
import { json } from "./rows.js";

/** Runs the atomic append script (see `APPEND`) and returns the committed records. */
export async function appendScript(
  epoch: RedisEpoch,
  keys: RedisKeys,
  threadId: string,
  fence: Fence,
  events: readonly BaseEvent[],
  view: ViewUpdate | undefined,
  now: number,
): Promise<EventRecord[]> {
  const started = events.findIndex((e) => e.type === "RUN_STARTED") + 1;
  const terminalAt = events.findIndex((e) => e.type === "RUN_FINISHED" || e.type === "RUN_ERROR");
  const terminal = events[terminalAt];
  const error = terminal ? errorOfTerminal(terminal) : undefined;
  const pairs = (messages: ViewUpdate["upsertMessages"]) =>
    (messages ?? []).flatMap((m) => [m.id, json(m)]);
  const replace = view?.replaceMessages;
  const upsert = view?.upsertMessages;
  const args: (string | number)[] = [
    threadId,
    fence.runId,
    fence.token,
    now,
    keys.channel,
    events.length,
    started,
    terminalAt + 1,
    terminal ? statusOfTerminal(terminal) : "",
    error ? json(error) : "",
    replace ? "1" : "0",
    replace?.length ?? 0,
    upsert?.length ?? 0,
    view?.state ? "1" : "0",
    view?.state ? json(view.state.value) : "",
    // Makes the script idempotent (see APPEND): a resent command returns the same seqs.
    randomUUID(),
    view?.interrupts ? json(view.interrupts.value) : "",
    // Serialised now: the caller may change its objects later, the log must not change.
    ...events.map(json),
    ...pairs(replace),
    ...pairs(upsert),
  ];
  const first = Number(await epoch.run(APPEND, keys.forThread(threadId), args));
  if (first < 0) {
    throw new ThreadlineError("LEASE_LOST", `run ${fence.runId} no longer holds ${threadId}`);
  }
  return events.map((event, i) => ({ seq: first + i, runId: fence.runId, at: now, event }));
}
