import { hostname } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { holdInstance, isOwnerGone, newInstanceId } from "../../src/core/instance.js";
import { createMemoryData, createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";

const instances: Threadline[] = [];
afterEach(async () => {
  await Promise.all(instances.splice(0).map((tl) => tl.close({ graceMs: 50 })));
  GateAgent.reset();
});

describe("lease owner liveness", () => {
  it("treats our own pid with another nonce as a dead predecessor, unless it is a live sibling", () => {
    const self = newInstanceId();
    const predecessor = `${hostname()}:${process.pid}:0dead0ff`;
    expect(isOwnerGone(predecessor, self)).toBe(true);

    const sibling = newInstanceId();
    const held = holdInstance(sibling);
    expect(isOwnerGone(sibling, self)).toBe(false);
    held.release();
    expect(isOwnerGone(sibling, self)).toBe(true);
  });

  it("leaves other hosts to lease expiry and knows a live pid from a dead one", () => {
    const self = newInstanceId();
    expect(isOwnerGone(`elsewhere:${process.pid}:abc`, self)).toBe(false);
    // pid 1 exists on every Linux machine; 2^22 + 1 is above the kernel's pid limit.
    expect(isOwnerGone(`${hostname()}:1:abc`, self)).toBe(false);
    expect(isOwnerGone(`${hostname()}:${2 ** 22 + 1}:abc`, self)).toBe(true);
    expect(isOwnerGone(self, self)).toBe(false);
  });

  it("a second instance starting in the same process does not interrupt the first one's run", async () => {
    const data = createMemoryData();
    const a = createThreadline({
      store: createMemoryStore({ data }),
      agents: { gate: new GateAgent() },
    });
    instances.push(a);
    await a.ready;
    const { runId } = await a.startRun({ threadId: "t", agentId: "gate" });
    const run = await GateAgent.nth(0);
    run.started();
    await waitFor(async () => (await a.store.runs.get("t", runId))?.startSeq, "RUN_STARTED stored");

    const b = createThreadline({
      store: createMemoryStore({ data }),
      agents: { gate: new GateAgent() },
    });
    instances.push(b);
    await b.ready; // its start-up sweep has looked at A's run

    expect((await b.store.runs.get("t", runId))?.status).toBe("running");
    run.finish();
    await waitFor(
      async () => ((await b.store.runs.get("t", runId))?.status === "succeeded" ? true : undefined),
      "run to succeed",
    );
  });
});
