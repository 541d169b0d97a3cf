/**
 * The scale-out scenario's commands of a Threadline server process (threadline-server.ts): many
 * concurrent runs started here at once, waited for, checked; and what this process sent to its
 * database meanwhile (statements / round trips, counted in the driver).
 */
import type { Threadline } from "../../src/threadline.js";
import { installPgCensus, pgSnapshot } from "../lib/pg-census.js";
import { installRedisCensus, redisSnapshot } from "../lib/redis-census.js";
import { now } from "../lib/script.js";

export interface ManyResult {
  /** When the first run was started, the last start returned, and the last run ended (now()). */
  t0: number;
  startedAt: number;
  t1: number;
}

/** Round trips this process's driver made so far (PostgreSQL: statements; Redis: writes). */
export interface Census {
  roundTrips: number;
  /** PostgreSQL: statements sent; Redis: commands sent (several per MULTI or pipeline). */
  commands: number;
  /** PostgreSQL: COMMITs sent and their time from send to reply, summed (ms). */
  commits?: { calls: number; ms: number };
}

export function scaleCommands(need: () => Threadline) {
  let census: "postgres" | "redis" | undefined;
  return {
    /** Counts the driver's traffic from now on (patches its prototype; once per process). */
    census(a: { store: string }): boolean {
      if (a.store === "postgres") installPgCensus();
      else if (a.store === "redis") installRedisCensus();
      else return false;
      census = a.store;
      return true;
    },
    counted(): Census {
      if (census === "postgres") {
        let calls = 0;
        const commits = { calls: 0, ms: 0 };
        for (const s of pgSnapshot().values()) {
          calls += s.calls;
          if (s.text === "COMMIT") {
            commits.calls += s.calls;
            commits.ms += s.ms;
          }
        }
        return { roundTrips: calls, commands: calls, commits };
      }
      if (census === "redis") {
        const r = redisSnapshot();
        const commands = Object.values(r.commands).reduce((x, y) => x + y, 0);
        return { roundTrips: r.roundTrips, commands };
      }
      return { roundTrips: 0, commands: 0 };
    },
    /**
     * Starts `runs` runs of `events` events on each thread, all threads at once (a run per
     * thread at a time: the rest wait in the thread's queue), and returns when every one ended
     * here. Each thread must be new (`checkMany` then expects runs × events on it).
     */
    async startMany(a: { threadIds: string[]; runs: number; events: number }): Promise<ManyResult> {
      const tl = need();
      const t0 = now();
      await Promise.all(
        a.threadIds.map(async (threadId) => {
          for (let i = 0; i < a.runs; i++) {
            await tl.startRun({
              threadId,
              agentId: "scripted",
              multitask: "enqueue",
              trigger: { kind: "schedule", scheduleId: "bench" },
              input: { forwardedProps: { bench: { events: a.events } } },
            });
          }
        }),
      );
      const startedAt = now();
      await Promise.all(a.threadIds.map((id) => tl.coordinator.idle(id)));
      return { t0, startedAt, t1: now() };
    },
    /**
     * Events committed on the threads (their lastSeq), each checked against `expect`: after the
     * measurement, so its reads are not counted in it.
     */
    async checkMany(a: { threadIds: string[]; expect: number }): Promise<number> {
      const tl = need();
      let events = 0;
      const wrong: string[] = [];
      for (const threadId of a.threadIds) {
        const seq = (await tl.store.threads.head(threadId))?.lastSeq ?? 0;
        events += seq;
        if (seq !== a.expect) wrong.push(`${threadId}: lastSeq ${seq}`);
      }
      if (wrong.length > 0) {
        throw new Error(
          `${wrong.length} thread(s) did not get ${a.expect} events: ${wrong.slice(0, 3).join(", ")}`,
        );
      }
      return events;
    },
  };
}
