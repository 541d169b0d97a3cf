import { describe, expect, it } from "vitest";
import {
  pageRuns,
  pageThreads,
  parseRunStatuses,
  SCAN_BUDGET,
  searchTerms,
  searchText,
} from "../../src/core/listing.js";
import type { RunRecord, RunStatus, TriggerKind } from "../../src/core/types.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { interceptStore } from "../helpers/intercept-store.js";

/** A memory store with `n` runs on thread `t`: run `r<i>` (0 oldest), status and trigger by `shape`. */
async function storeWithRuns(
  n: number,
  shape: (i: number) => { status: RunStatus; trigger: TriggerKind },
) {
  const store = createMemoryStore();
  await store.threads.ensure("t");
  for (let i = 0; i < n; i++) {
    const { status, trigger } = shape(i);
    const run: RunRecord = {
      runId: `r${i}`,
      threadId: "t",
      agentId: "a",
      trigger: { kind: trigger },
      status: "queued",
      input: {},
      createdAt: i,
    };
    await store.runs.enqueue(run, "enqueue");
    await store.runs.markEnded("t", run.runId, { status, now: i });
  }
  return store;
}

const ids = (runs: RunRecord[]) => runs.map((r) => r.runId);

describe("run pages", () => {
  it("pages newest first by offset, with next until the end", async () => {
    const store = await storeWithRuns(12, () => ({ status: "succeeded", trigger: "api" }));
    const first = await pageRuns(store, "t", { limit: 5, offset: 0 });
    expect(ids(first.items)).toEqual(["r11", "r10", "r9", "r8", "r7"]);
    expect(first.next).toBe(5);
    const second = await pageRuns(store, "t", { limit: 5, offset: 5 });
    expect(ids(second.items)).toEqual(["r6", "r5", "r4", "r3", "r2"]);
    expect(second.next).toBe(10);
    const last = await pageRuns(store, "t", { limit: 5, offset: 10 });
    expect(ids(last.items)).toEqual(["r1", "r0"]);
    expect(last.next).toBeUndefined();
    // Exactly a page left: no empty page after it.
    expect((await pageRuns(store, "t", { limit: 5, offset: 7 })).next).toBeUndefined();
    expect(await pageRuns(store, "t", { limit: 5, offset: 50 })).toEqual({ items: [] });
  });

  it("filters by status and trigger; next continues after the last match", async () => {
    const store = await storeWithRuns(20, (i) => ({
      status: i % 4 === 0 ? "failed" : i % 4 === 1 ? "cancelled" : "succeeded",
      trigger: i % 2 === 0 ? "heartbeat" : "client",
    }));
    const failed = await pageRuns(store, "t", { limit: 2, offset: 0, status: ["failed"] });
    expect(ids(failed.items)).toEqual(["r16", "r12"]);
    // r12 is the 8th newest (offset 7): the next page starts after it.
    expect(failed.next).toBe(8);
    const more = await pageRuns(store, "t", { limit: 2, offset: 8, status: ["failed"] });
    expect(ids(more.items)).toEqual(["r8", "r4"]);
    const rest = await pageRuns(store, "t", { limit: 2, offset: more.next!, status: ["failed"] });
    expect(ids(rest.items)).toEqual(["r0"]);
    expect(rest.next).toBeUndefined();

    const both = await pageRuns(store, "t", {
      limit: 10,
      offset: 0,
      status: ["failed", "cancelled"],
      trigger: ["client"],
    });
    expect(ids(both.items)).toEqual(["r17", "r13", "r9", "r5", "r1"]);
    expect(both.next).toBeUndefined();
  });

  it("reads at most SCAN_BUDGET runs per filtered page, and says where to go on", async () => {
    const n = SCAN_BUDGET + 10;
    // Only the oldest run failed.
    const store = await storeWithRuns(n, (i) => ({
      status: i === 0 ? "failed" : "succeeded",
      trigger: "heartbeat",
    }));
    let reads = 0;
    const counting = interceptStore(store, async (method, call, args) => {
      const result = await call(...args);
      if (method === "runs.list") reads += (result as unknown[]).length;
      return result;
    });
    const first = await pageRuns(counting, "t", { limit: 10, offset: 0, status: ["failed"] });
    expect(first).toEqual({ items: [], next: SCAN_BUDGET });
    expect(reads).toBe(SCAN_BUDGET);
    const second = await pageRuns(counting, "t", {
      limit: 10,
      offset: first.next!,
      status: ["failed"],
    });
    expect(ids(second.items)).toEqual(["r0"]);
    expect(second.next).toBeUndefined();
  });

  it("rejects unknown statuses with the allowed ones", () => {
    expect(parseRunStatuses(["failed,cancelled", "failed"])).toEqual(["failed", "cancelled"]);
    expect(() => parseRunStatuses(["broken"])).toThrow(/status must be one of queued, running/);
  });
});

describe("thread search", () => {
  it("matches every word against the id and the metadata as key=value", async () => {
    const store = createMemoryStore();
    await store.threads.ensure("support-42", { customer: "ACME Corp", tier: { level: 2 } });
    await store.threads.ensure("digest", { createdBy: "inspector" });
    await store.threads.ensure("other");
    const search = async (q: string) =>
      (await pageThreads(store, { limit: 10, offset: 0, q })).items.map((t) => t.threadId).sort();
    expect(await search("acme")).toEqual(["support-42"]);
    expect(await search("tier.level=2")).toEqual(["support-42"]);
    expect(await search("support acme")).toEqual(["support-42"]);
    expect(await search("support inspector")).toEqual([]);
    expect(await search("createdby=inspector")).toEqual(["digest"]);
    expect(await search("  ")).toEqual(["digest", "other", "support-42"]);
    expect(searchText({ threadId: "x", metadata: { tags: ["a", "b"] } } as never)).toBe(
      'x\ntags=["a","b"]',
    );
    expect(() => searchTerms("x".repeat(201))).toThrow(/at most 200 characters/);
  });
});
