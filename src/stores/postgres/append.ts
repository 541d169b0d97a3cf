import { planAppend, recordsOf } from "../../core/append-plan.js";
import { leaseLost } from "../../core/run-rules.js";
import type { AppendArgs } from "../../core/store.js";
import type { EventRecord } from "../../core/types.js";
import { appendStatement } from "./append-sql.js";
import type { Queryable } from "./connection.js";
import type { Tables } from "./schema.js";

/**
 * The fenced append: one statement in autocommit (see `appendStatement`), so an append is one
 * round trip and one commit. It locks the thread's row with the fence in its WHERE, writes the
 * events at gapless seqs, records the run's start, ends the run on a terminal event, persists
 * the view update and queues the commit's notification — all or nothing.
 */
export async function append(
  db: Queryable,
  t: Tables,
  channel: string,
  [threadId, fence, events, view]: AppendArgs,
  now: number,
): Promise<EventRecord[]> {
  // Decided before the store touches anything (VALIDATION_FAILED writes nothing).
  const plan = planAppend(events);
  const statement = appendStatement(t, { threadId, fence, plan, view, now, channel });
  const { rows } = await db.query<{ last_seq: number }>(statement.text, statement.values);
  // No row: the fence did not hold (or the thread is gone), and nothing was written.
  const locked = rows[0];
  if (!locked) throw leaseLost(threadId, fence.runId);
  return recordsOf(plan, locked.last_seq + 1, fence.runId, now);
}
