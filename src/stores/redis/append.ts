import { randomUUID } from "node:crypto";
import { planAppend, recordsOf } from "../../core/append-plan.js";
import { leaseLost } from "../../core/run-rules.js";
import type { AppendArgs } from "../../core/store.js";
import type { EventRecord, ViewUpdate } from "../../core/types.js";
import type { RedisEpoch } from "./epoch.js";
import type { RedisKeys } from "./keys.js";
import { APPEND } from "./lua-append.js";
import { json } from "./rows.js";

/** Runs the atomic append script (see `APPEND`) and returns the committed records. */
export async function appendScript(
  epoch: RedisEpoch,
  keys: RedisKeys,
  [threadId, fence, events, view]: AppendArgs,
  now: number,
): Promise<EventRecord[]> {
  const plan = planAppend(events);
  const terminal = plan.terminal;
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
    plan.started + 1,
    terminal ? terminal.index + 1 : 0,
    terminal?.status ?? "",
    terminal?.error ? json(terminal.error) : "",
    replace ? "1" : "0",
    replace?.length ?? 0,
    upsert?.length ?? 0,
    view?.state ? "1" : "0",
    view?.state ? json(view.state.value) : "",
    // Makes the script idempotent (see APPEND): a resent command returns the same seqs.
    randomUUID(),
    view?.interrupts ? json(view.interrupts.value) : "",
    view?.interrupts?.dueAt == null ? "" : view.interrupts.dueAt,
    ...plan.json,
    ...pairs(replace),
    ...pairs(upsert),
  ];
  const first = Number(await epoch.run(APPEND, keys.forThread(threadId), args));
  if (first < 0) throw leaseLost(threadId, fence.runId);
  return recordsOf(plan, first, fence.runId, now);
}
