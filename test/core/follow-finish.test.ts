import type { BaseEvent } from "@ag-ui/core";
import { describe, expect, it } from "vitest";
import { FanOut } from "../../src/core/fanout.js";
import { Follow } from "../../src/core/follow.js";
import type { CommitListener } from "../../src/core/store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { newRun } from "../conformance/store/fixtures.js";

describe("Follow.finish", () => {
  it("delivers what was committed before it even when the commit's announcement is still on its way", async () => {
    const store = createMemoryStore();
    // Announcements held back, as a PostgreSQL NOTIFY or a Redis message in flight would be.
    const held: Array<() => void> = [];
    const subscribe = store.threads.subscribe.bind(store.threads);
    store.threads.subscribe = (threadId: string, listener: CommitListener) =>
      subscribe(threadId, (notice) => held.push(() => listener(notice)));
    const fanout = new FanOut(store);
    await store.threads.ensure("t");
    await store.runs.enqueue(newRun("t", "r"), "reject");
    const { fence } = (await store.runs.claimNext("t", { owner: "me", leaseMs: 60_000, now: 0 }))!;
    const follow = new Follow(store, fanout, "t", { after: 0, replay: "full" });
    await follow.open();
    const items = follow[Symbol.asyncIterator]();
    await store.threads.append("t", fence, [
      { type: "RUN_STARTED", threadId: "t", runId: "r" },
    ] as BaseEvent[]);
    for (const deliver of held.splice(0)) deliver();
    expect((await items.next()).value).toMatchObject({ kind: "event", seq: 1 });
    // The follower asks for more: it reads the store (caught up), then waits for the live tail.
    const pending = items.next();
    await new Promise((r) => setImmediate(r));
    // The run's end is committed; its announcement is still on its way when shutdown
    // finishes the follower.
    await store.threads.append("t", fence, [
      { type: "RUN_ERROR", message: "the server shut down", code: "INTERRUPTED" },
    ] as BaseEvent[]);
    expect(held).toHaveLength(1);
    follow.finish();
    const rest: number[] = [];
    for (let next = await pending; !next.done; next = await items.next()) {
      if (next.value.kind === "event") rest.push(next.value.seq);
    }
    expect(rest).toEqual([2]);
    fanout.close();
    await store.close();
  });
});
