import type { BaseEvent } from "@ag-ui/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { countType, eventsOf, type Frame, FrameReader } from "../helpers/sse.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { waitFor } from "../helpers/wait-for.js";

const LEASE_MS = 2_000;
/** The coordinator sweeps for expired leases every leaseMs / 2. */
const SWEEP_MS = LEASE_MS / 2;
/** Room for a loaded CI machine on top of the lease bound (lease expiry + one sweep). */
const SLACK_MS = 2_500;
const NAMES = ["a", "b", "c"] as const;
type Name = (typeof NAMES)[number];

interface RunJson {
  runId: string;
  status: string;
  error?: { code: string };
  lease?: { owner: string };
  trigger: { kind: string; fireAt?: string };
}

/**
 * Three real `threadline serve` processes on one shared store (`spec`), each with its own
 * instance id on a different "host", so that a dead instance is found by lease expiry alone, as
 * it would be across machines.
 */
export function runMultiInstanceSuite(
  name: string,
  setup: () => Promise<{ spec: string; cleanup: () => Promise<void> }>,
): void {
  describe(`three instances on one ${name} store`, () => {
    const servers = new Map<string, ServerProcess>();
    let cleanup: (() => Promise<void>) | undefined;
    const url = (n: string) => servers.get(n)!.url;

    beforeAll(async () => {
      const s = await setup();
      cleanup = s.cleanup;
      // Started together: the schema migration and the channel must cope with that.
      const started = await Promise.allSettled(
        NAMES.map((n) =>
          startServerProcess(
            [
              "--port",
              "0",
              "--store",
              s.spec,
              "--lease-ms",
              String(LEASE_MS),
              "--instance-id",
              `node-${n}`,
              "--grace-ms",
              "200",
              "--heartbeat-ms",
              "1000",
            ],
            {},
            { startTimeoutMs: 80_000 },
          ),
        ),
      );
      // Whatever started is stopped by afterAll, even when another failed to start.
      for (const [i, n] of NAMES.entries()) {
        const r = started[i]!;
        if (r.status === "fulfilled") servers.set(n, r.value);
      }
      for (const r of started) if (r.status === "rejected") throw r.reason;
    }, 90_000);

    afterAll(async () => {
      await Promise.all([...servers.values()].map((s) => s.stop()));
      await cleanup?.();
    }, 30_000);

    const post = (base: string, path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const startRun = async (base: string, threadId: string, demo: unknown) => {
      const res = await post(base, `/threads/${threadId}/runs`, {
        agentId: "demo",
        multitask: "enqueue",
        forwardedProps: { demo },
      });
      expect(res.status).toBe(202);
      return ((await res.json()) as { runId: string }).runId;
    };
    const follow = async (base: string, threadId: string, lastEventId?: string) => {
      const res = await fetch(`${base}/threads/${threadId}/events`, {
        headers: lastEventId ? { "Last-Event-ID": lastEventId } : {},
      });
      expect(res.status).toBe(200);
      return new FrameReader(res.body!);
    };
    const runs = async (base: string, threadId: string) =>
      (
        (await (await fetch(`${base}/threads/${threadId}/runs?limit=1000`)).json()) as {
          runs: RunJson[];
        }
      ).runs;
    const logFrames = (frames: Frame[]) => frames.filter((f) => f.id !== undefined && !f.event);
    const expectContiguous = (frames: Frame[], after: number) => {
      const ids = logFrames(frames).map((f) => Number(f.id));
      expect(ids).toEqual(ids.map((_, i) => after + 1 + i));
    };

    it("a follower on A sees runs started through B and C in order, without gap or duplicate", async () => {
      const threadId = `mi-order-${Date.now().toString(36)}`;
      expect((await post(url("a"), "/threads", { threadId })).status).toBe(201);
      const reader = await follow(url("a"), threadId);
      const frames = reader.until((f) => countType(f, "RUN_FINISHED") >= 4, 30_000);
      const started: string[] = [];
      for (const via of ["b", "c", "b", "c"]) {
        started.push(await startRun(url(via), threadId, { tokens: 20, delayMs: 1 }));
      }
      const got = await frames;
      await reader.close();
      await verifyWithAgUi(eventsOf(got));
      expectContiguous(got, 0);
      const runIds = eventsOf(got)
        .filter((e) => e.type === "RUN_STARTED")
        .map((e) => (e as BaseEvent & { runId: string }).runId);
      expect(runIds).toEqual(started);

      // Any instance replays the same log, byte for byte the same events.
      const replay = await fetch(`${url("c")}/threads/${threadId}/events?replay=full&follow=false`);
      const all = await new FrameReader(replay.body!).until(() => false);
      expect(logFrames(all).map((f) => [f.id, f.data])).toEqual(
        logFrames(got).map((f) => [f.id, f.data]),
      );
    });

    it("each tick of the demo heartbeat (every second) fires exactly once across the three", async () => {
      const heartbeats = async (base: string) =>
        (await runs(base, "demo")).filter((r) => r.trigger.kind === "heartbeat");
      const deadline = Date.now() + 30_000;
      while ((await heartbeats(url("a"))).length < 5) {
        expect(Date.now(), "five heartbeat runs").toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 200));
      }
      const got = await heartbeats(url("b"));
      const ticks = got.map((r) => Date.parse(r.trigger.fireAt!)).sort((x, y) => x - y);
      expect(new Set(ticks).size).toBe(ticks.length);
      // Consecutive ticks one second apart: none fired twice, none skipped.
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(1000);
    });

    it("kill -9 of the running instance: another closes the run as INTERRUPTED within the lease bound, the queue moves on, followers resume elsewhere", async () => {
      const threadId = `mi-kill-${Date.now().toString(36)}`;
      expect((await post(url("b"), "/threads", { threadId })).status).toBe(201);
      const followers = new Map(
        await Promise.all(NAMES.map(async (n) => [n, await follow(url(n), threadId)] as const)),
      );
      const long = await startRun(url("b"), threadId, { tokens: 5_000, delayMs: 2 });
      // Any instance may claim it (the one it was posted to usually does first; another's sweep
      // of idle queues can be quicker): the instance running it is the one killed.
      const owner = await waitFor(
        async () =>
          (await runs(url("b"), threadId)).find((r) => r.runId === long && r.status === "running")
            ?.lease?.owner,
        "the long run to be claimed",
        15_000,
      );
      const dying = NAMES.find((n) => `node-${n}` === owner)!;
      expect(dying, `owner ${owner}`).toBeDefined();
      const [survivor, other] = NAMES.filter((n) => n !== dying) as [Name, Name];
      await followers.get(other)!.close();
      const onDying = followers.get(dying)!;
      const onSurvivor = followers.get(survivor)!;
      const survivorFrames = onSurvivor.until(
        (f) => countType(f, "RUN_FINISHED") + countType(f, "RUN_ERROR") >= 2,
        30_000,
      );
      await onDying.until((f) => countType(f, "TEXT_MESSAGE_CONTENT") >= 30, 15_000);
      // Queued behind the long run (enqueued once that one surely runs).
      const next = await startRun(url(other), threadId, { tokens: 5, delayMs: 1 });

      const killedAt = Date.now();
      await servers.get(dying)!.kill9();
      servers.delete(dying);
      // The dying instance's follower sees its stream end, then resumes elsewhere with its cursor.
      await onDying.until(() => false, 10_000).catch(() => undefined);
      const seen = onDying.frames;
      const cursor = logFrames(seen).at(-1)!.id!;
      const resumed = await follow(url(other), threadId, cursor);
      let interruptedAt = 0;
      const after = await resumed.until((f) => {
        if (!interruptedAt && countType(f, "RUN_ERROR") > 0) interruptedAt = Date.now();
        return countType(f, "RUN_FINISHED") >= 1;
      }, 30_000);
      await resumed.close();
      const recoveryMs = interruptedAt - killedAt;
      console.info(`[${name}] run closed as INTERRUPTED ${recoveryMs} ms after kill -9`);
      expect(recoveryMs).toBeLessThan(LEASE_MS + SWEEP_MS + SLACK_MS);

      // No gap, no duplicate, and one valid AG-UI stream across the reconnect.
      const seenLog = logFrames(seen).filter((f) => f.event !== "snapshot");
      // (A resume in the middle of a run may start with `reopen` frames; the log frames follow.)
      const afterLog = logFrames(after);
      expectContiguous(afterLog, Number(cursor));
      await verifyWithAgUi([...eventsOf(seenLog), ...eventsOf(afterLog)]);
      const error = eventsOf(afterLog).find((e) => e.type === "RUN_ERROR") as BaseEvent & {
        code?: string;
      };
      expect(error.code).toBe("INTERRUPTED");
      const nextStarted = eventsOf(afterLog).find((e) => e.type === "RUN_STARTED") as BaseEvent & {
        runId: string;
      };
      expect(nextStarted.runId).toBe(next);

      // The survivor's follower saw it all live, and the log holds what the dying one saw.
      const live = await survivorFrames;
      await onSurvivor.close();
      await verifyWithAgUi(eventsOf(live));
      expectContiguous(live, 0);
      const byId = new Map(logFrames(live).map((f) => [f.id, f.data]));
      for (const f of seenLog) expect(byId.get(f.id)).toEqual(f.data);

      const final = await runs(url(other), threadId);
      expect(final.find((r) => r.runId === long)).toMatchObject({
        status: "interrupted",
        error: { code: "INTERRUPTED" },
      });
      expect(final.find((r) => r.runId === next)).toMatchObject({ status: "succeeded" });
    });
  });
}
