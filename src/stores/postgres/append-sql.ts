import type { Message } from "@ag-ui/core";
import type { AppendPlan } from "../../core/append-plan.js";
import type { Fence, ViewUpdate } from "../../core/types.js";
import { json } from "./rows.js";
import { RunTable } from "./runs.js";
import type { Tables } from "./schema.js";

/** One SQL statement and its parameters. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** What the append statement needs beyond its tables: the batch, its plan and the channel. */
export interface AppendInput {
  threadId: string;
  fence: Fence;
  plan: AppendPlan;
  view: ViewUpdate | undefined;
  now: number;
  channel: string;
}

/**
 * A fenced append as ONE statement, sent without BEGIN/COMMIT (autocommit: one round trip, one
 * commit). `lk` locks the thread's row with the fence in its WHERE — `fenceHolds`
 * (core/run-rules.ts) in SQL: the fence's run is the thread's active run, it is running and the
 * token is the thread's. A stale fence locks nothing, so every other part (each reads `lk`)
 * writes nothing and the statement returns no row: LEASE_LOST. Otherwise it returns the thread's
 * `last_seq` before the batch, from which the events are numbered (gapless: appends to a thread
 * serialise on the row lock).
 *
 * Why one statement is enough under READ COMMITTED although its snapshot is taken before the
 * lock is granted: the row lock re-reads the thread's newest row (EvalPlanQual) and re-checks
 * the fence on it, so `last_seq`, `next_position` and the fence are current. The run's status
 * is read from the snapshot, but no writer changes a run's status without also changing the
 * thread's row while the fence holds (the claim, a takeover, the end all do, under its lock),
 * so a status that changed after the snapshot shows as a failed re-check. The run's UPDATE
 * re-reads its row as any UPDATE does. No part reads other rows of the thread: messages are
 * probes of the unique index (ON CONFLICT), never a lookup in the snapshot. The run's status is
 * a subquery on its key rather than a join, which could read every running run of every thread
 * through the `runs_running` index.
 *
 * Durable before visible: NOTIFY is delivered at commit, with the data, so a LISTENer never
 * hears of a batch that did not commit, and hears a thread's commits in seq order.
 */
export function appendStatement(t: Tables, input: AppendInput): Statement {
  const { threadId, fence, plan, view, now, channel } = input;
  const values: unknown[] = [];
  const $ = (value: unknown) => `$${values.push(value)}`;
  const id = $(threadId);
  const runId = $(fence.runId);
  const at = `${$(now)}::bigint`;
  const n = plan.json.length;
  // Counts and offsets are parameters, never literals: the text depends only on the batch's
  // shape, so the prepared statements per connection stay a handful (connection.ts).
  const count = `${$(n)}::bigint`;
  const startedAt = plan.started >= 0 ? `(lk.last_seq + ${$(plan.started + 1)}::bigint)` : "";
  const ctes = [
    `lk AS (
       SELECT t.last_seq, t.next_position FROM ${t.threads} t
       WHERE t.thread_id = ${id} AND t.active_run_id = ${runId}
         AND t.fence_token = ${$(fence.token)}
         AND (SELECT r.status FROM ${t.runs} r WHERE r.thread_id = ${id} AND r.run_id = ${runId})
           = 'running'
       FOR UPDATE)`,
  ];
  if (n > 0) {
    ctes.push(`ev AS (
       INSERT INTO ${t.events} (thread_id, seq, run_id, at, event)
       SELECT ${id}, lk.last_seq + u.n, ${runId}, ${at}, u.e::json
       FROM lk, unnest(${$(plan.json)}::text[]) WITH ORDINALITY AS u(e, n))`);
  }
  // The run's start and end: one UPDATE of its row, also when the batch holds both.
  const runSets: string[] = [];
  if (plan.started >= 0) {
    runSets.push(RunTable.startAssignment(startedAt));
  }
  if (plan.terminal) {
    const error = plan.terminal.error ? json(plan.terminal.error) : null;
    runSets.push(RunTable.endAssignments(`${$(plan.terminal.status)}::text`, at, $(error)));
  }
  if (runSets.length > 0) {
    ctes.push(`run AS (UPDATE ${t.runs} SET ${runSets.join(", ")}
       FROM lk WHERE thread_id = ${id} AND run_id = ${runId})`);
  }
  // Messages are stamped with the batch's last seq (compaction's horizon test).
  const messages = view ? messageCtes(t, view, id, `lk.last_seq + ${count}`, $) : undefined;
  if (messages) ctes.push(...messages.ctes);
  const sets = [`last_seq = lk.last_seq + ${count}`, `updated_at = ${at}`];
  if (plan.terminal) sets.push("active_run_id = NULL");
  if (messages) sets.push(`next_position = lk.next_position + ${$(messages.count)}::bigint`);
  if (view?.state) sets.push(`state = ${$(json(view.state.value))}::json`);
  if (view?.interrupts) {
    sets.push(`interrupts = ${$(json(view.interrupts.value))}::json`);
    sets.push(`interrupts_due_at = ${$(view.interrupts.dueAt ?? null)}::bigint`);
  }
  ctes.push(`thr AS (UPDATE ${t.threads} SET ${sets.join(", ")}
     FROM lk WHERE thread_id = ${id})`);
  const notices: string[] = [];
  if (n > 0) {
    const ch = $(channel);
    // announcement.ts's `first:last:threadId`.
    notices.push(
      `pg_notify(${ch}, (lk.last_seq + 1) || ':' || (lk.last_seq + ${count}) || ':' || ${id})`,
    );
    // run-start-notice.ts's `{"runStarted":{threadId,runId,seq}}`, on the same channel.
    if (plan.started >= 0) {
      notices.push(`pg_notify(${ch}, json_build_object('runStarted', json_build_object(
        'threadId', ${id}::text, 'runId', ${runId}::text,
        'seq', ${startedAt}))::text)`);
    }
  }
  const text = `WITH ${ctes.join(",\n")}
    SELECT lk.last_seq${notices.map((x) => `, ${x}`).join("")} FROM lk`;
  return { text, values };
}

/**
 * The messages of a view update (`applyViewUpdate`'s rule: replace, then upserts; new messages
 * at the end, a known id keeps its place), as CTEs of the append. Every message of the update
 * gets the next position in order and a known id keeps its row's: positions only order the
 * view, so the ones a known id leaves unused are harmless gaps. Nothing reads the thread's
 * other messages (an anti-join to find the new ids had the planner scan all of them, dead
 * versions included, on every append: issue 14). A replace deletes the messages it does not
 * name and moves the ones it names behind all others: the delete and the upsert touch disjoint
 * rows, as two parts of one statement must.
 */
function messageCtes(
  t: Tables,
  update: ViewUpdate,
  id: string,
  seq: string,
  $: (v: unknown) => string,
): { ctes: string[]; count: number } | undefined {
  const replace = update.replaceMessages !== undefined;
  // Collapse repeated ids (first place, last content), as the in-memory view does.
  const latest = new Map<string, Message>();
  for (const m of [...(update.replaceMessages ?? []), ...(update.upsertMessages ?? [])]) {
    latest.set(m.id, m);
  }
  if (latest.size === 0 && !replace) return undefined;
  const ids = $([...latest.keys()]);
  const ctes: string[] = [];
  if (replace) {
    ctes.push(`gone AS (DELETE FROM ${t.messages} m USING lk
       WHERE m.thread_id = ${id} AND NOT (m.message_id = ANY(${ids}::text[])))`);
  }
  if (latest.size > 0) {
    const bodies = $([...latest.values()].map((m) => json(m)));
    ctes.push(`msg AS (
       INSERT INTO ${t.messages} (thread_id, position, message_id, body, seq)
       SELECT ${id}, lk.next_position + u.n - 1, u.id, u.body::json, ${seq}
       FROM lk, unnest(${ids}::text[], ${bodies}::text[]) WITH ORDINALITY AS u(id, body, n)
       ON CONFLICT (thread_id, message_id) DO UPDATE SET body = excluded.body${
         replace ? ", position = excluded.position, seq = excluded.seq" : ""
})`);
  }
  return { ctes, count: latest.size };
}
