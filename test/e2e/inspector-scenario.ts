import type { StartRunRequest } from "../../src/core/coordinator.js";
import type { RunRecord } from "../../src/core/types.js";
import type { Threadline } from "../../src/threadline.js";
import { waitFor } from "../helpers/wait-for.js";

/** What `seedInspector` made: the ids the tests and the screenshot look for. */
export interface InspectorScenario {
  /** Thread `support`: a conversation with a failed and a cancelled run among good ones. */
  support: { failed: RunRecord; cancelled: RunRecord; runs: RunRecord[] };
  /** Thread `busy`: many short runs of every trigger, every seventh one failing. */
  busy: { runs: RunRecord[] };
}

const fast = (extra: Record<string, unknown> = {}) => ({ demo: { delayMs: 0, ...extra } });

async function settled(tl: Threadline, threadId: string, runId: string): Promise<RunRecord> {
  return waitFor(
    async () => {
      const run = await tl.store.runs.get(threadId, runId);
      return run?.endedAt !== undefined ? run : undefined;
    },
    `run ${runId} to end`,
    10_000,
  );
}

async function run(tl: Threadline, req: Omit<StartRunRequest, "multitask">): Promise<RunRecord> {
  const { runId } = await tl.startRun({ ...req, multitask: "enqueue" });
  return settled(tl, req.threadId, runId);
}

/** A reply long enough to be cancelled halfway. */
const REPORT = Array.from(
  { length: 40 },
  () => "Incident 1042: CSV exports stalled at 90% after the storage migration; ",
)
  .join("")
  .split(/(?<= )/);

const say = (id: string, content: string) => [{ id, role: "user" as const, content }];

/**
 * Data for the inspector's browser tests and its screenshot: threads with metadata (`team`,
 * `customer`), a conversation long enough to scroll with a failed and a cancelled run in it,
 * and a thread with more runs than a page.
 */
export async function seedInspector(
  tl: Threadline,
  opts: { threads?: number; busyRuns?: number } = {},
): Promise<InspectorScenario> {
  await tl.store.threads.ensure("support", { customer: "acme", team: "care" });
  const runs: RunRecord[] = [];
  const talk = async (id: string, text: string, trigger: StartRunRequest["trigger"]) => {
    const r = await run(tl, {
      threadId: "support",
      agentId: "demo",
      trigger,
      input: { messages: say(id, text), forwardedProps: fast() },
    });
    runs.push(r);
  };
  await talk("u1", "My export to CSV is stuck at 90%. What can I do?", { kind: "client" });
  const failed = await run(tl, {
    threadId: "support",
    agentId: "demo",
    trigger: { kind: "webhook", hookId: "zendesk", deliveryId: "d-1042" },
    input: {
      messages: say("u2", "Ticket #1042 was reopened by the customer"),
      // Streams a few words before it fails: a partial reply.
      forwardedProps: { demo: { delayMs: 2, fail: "the ticket system timed out" } },
    },
  });
  runs.push(failed);
  await talk("u3", "Can you retry the export for me?", { kind: "client" });
  runs.push(
    await run(tl, {
      threadId: "support",
      agentId: "demo",
      trigger: { kind: "heartbeat", scheduleId: "support-heartbeat" },
      input: { forwardedProps: fast() },
    }),
  );
  // A long reply, cancelled once it streams.
  const long = await tl.startRun({
    threadId: "support",
    agentId: "demo",
    multitask: "enqueue",
    trigger: { kind: "api", source: "ops script" },
    input: {
      messages: say("u4", "Write the full incident report"),
      forwardedProps: { demo: { tokens: REPORT, delayMs: 5 } },
    },
  });
  await waitFor(
    async () => {
      const reply = (await tl.store.threads.get("support"))?.messages.find(
        (m) => m.id === `msg-${long.runId}`,
      );
      return typeof reply?.content === "string" && reply.content.split(" ").length > 12;
    },
    "the long reply to stream",
    10_000,
  );
  await tl.cancelRun("support", long.runId);
  const cancelled = await settled(tl, "support", long.runId);
  runs.push(cancelled);
  for (let i = 0; i < 4; i++) {
    await talk(`u${5 + i}`, `Follow-up ${i + 1}: ${"please keep me posted on this. ".repeat(3)}`, {
      kind: "client",
    });
  }

  const busy: RunRecord[] = [];
  const kinds = ["heartbeat", "schedule", "client", "api", "webhook"] as const;
  for (let i = 0; i < (opts.busyRuns ?? 60); i++) {
    const kind = kinds[i % kinds.length]!;
    const trigger: StartRunRequest["trigger"] =
      kind === "heartbeat" || kind === "schedule"
        ? { kind, scheduleId: `s-${kind}` }
        : kind === "webhook"
          ? { kind, hookId: "github" }
          : { kind };
    const { runId } = await tl.startRun({
      threadId: "busy",
      agentId: "demo",
      multitask: "enqueue",
      trigger,
      input: { forwardedProps: fast({ tokens: 2, ...(i % 7 === 3 ? { fail: true } : {}) }) },
    });
    busy.push({ runId } as RunRecord);
  }
  for (const [i, r] of busy.entries()) busy[i] = await settled(tl, "busy", r.runId);

  for (let i = 0; i < (opts.threads ?? 0); i++) {
    const id = `team-${String(i).padStart(3, "0")}`;
    await tl.store.threads.ensure(id, { team: i % 3 === 0 ? "beta" : "alpha", n: i });
  }
  return { support: { failed, cancelled, runs }, busy: { runs: busy } };
}
