import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { FanOut } from "../../src/core/fanout.js";
import { Follow } from "../../src/core/follow.js";
import type { ThreadStore } from "../../src/core/store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { claimedRun } from "../helpers/running-run.js";

const runId = "r1";
const events = [
  { type: "RUN_STARTED", threadId: "t", runId },
  { type: "TEXT_MESSAGE_START", messageId: "m", role: "assistant" },
  { type: "TEXT_MESSAGE_END", messageId: "m" },
] as BaseEvent[];

let store: ThreadStore;
let fanout: FanOut;
afterEach(async () => {
  fanout.close();
  await store.close();
});

describe("a follower's wake-up", () => {
  it("is not lost when a live batch arrives while the follower reads the store", async () => {
    store = createMemoryStore();
    fanout = new FanOut(store);
    const fence = await claimedRun(store, "t", runId);

    // The follower's store read returns what it saw before the commit, and completes only after
    // the committed batch was pushed to it live (the interleaving that lost the wake-up).
    // (A follower reads its replay pages as stored text: `readText`.)
    const realRead = store.threads.readText.bind(store.threads);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let readStarted!: () => void;
    const reading = new Promise<void>((resolve) => {
      readStarted = resolve;
    });
    let first = true;
    store.threads.readText = async (threadId, opts) => {
      const page = await realRead(threadId, opts);
      if (first) {
        first = false;
        readStarted();
        await held;
      }
      return page;
    };

    const f = new Follow(store, fanout, "t", { replay: "full" });
    await f.open();
    const next = f.nextBatch();
    await reading;
    await store.threads.append("t", fence, events);
    release();

    const batch = await Promise.race([
      next,
      new Promise<"stalled">((resolve) => setTimeout(() => resolve("stalled"), 2_000)),
    ]);
    expect(batch === "stalled" ? batch : batch?.map((i) => i.seq)).toEqual([1, 2, 3]);
    f.close();
  });
});
