import { type BaseEvent, EventType } from "@ag-ui/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CommittedEvent, planAppend, recordsOf, withJson } from "../../src/core/append-plan.js";
import { logBatch } from "../../src/core/follow-item.js";
import { chunkOf } from "../../src/http/sse-frames.js";

// The append plan serialises each event once and parses none of them: a commit that no
// in-process reader of objects sees (the common case: no follower, or SSE followers whose
// frames take the committed text) costs one JSON.stringify per event, not a round trip.

const at = new Date("2026-12-01T00:00:00.000Z");
const batch = (): BaseEvent[] => [
  { type: EventType.RUN_STARTED, threadId: "t", runId: "r" } as BaseEvent,
  { type: EventType.CUSTOM, name: "when", value: { at, gone: undefined } } as BaseEvent,
  {
    type: EventType.RUN_ERROR,
    message: "boom",
    code: "AGENT_ERROR",
  } as BaseEvent,
];

describe("append plan", () => {
  afterEach(() => vi.restoreAllMocks());

  it("decides start and end without parsing the events it will not read", () => {
    const events = batch();
    const json = events.map((e) => JSON.stringify(e));
    const parse = vi.spyOn(JSON, "parse");
    const plan = planAppend(withJson(events, json));
    // The terminal event alone is read back: the run's error as the log keeps it.
    expect(parse).toHaveBeenCalledTimes(1);
    expect(plan.started).toBe(0);
    expect(plan.terminal).toEqual({
      index: 2,
      status: "failed",
      error: { code: "AGENT_ERROR", message: "boom" },
    });
    expect(plan.types).toEqual(["RUN_STARTED", "CUSTOM", "RUN_ERROR"]);
    expect(plan.json).toEqual(json);
  });

  it("gives records that parse their stored JSON once, on first use", () => {
    const plan = planAppend(batch());
    const records = recordsOf(plan, 7, "r", 1);
    const parse = vi.spyOn(JSON, "parse");
    expect(records.map((r) => [r.seq, r.type])).toEqual([
      [7, "RUN_STARTED"],
      [8, "CUSTOM"],
      [9, "RUN_ERROR"],
    ]);
    expect(parse).not.toHaveBeenCalled();
    const custom = records[1]!;
    // The JSON round trip, as a replay gives it: the Date is its ISO string, undefined is absent.
    expect(custom.event).toEqual({ type: "CUSTOM", name: "when", value: { at: at.toISOString() } });
    expect(custom.event).toBe(custom.event);
    expect(parse).toHaveBeenCalledTimes(1);
    expect(custom).toBeInstanceOf(CommittedEvent);
  });

  it("builds a live batch whose frames are the committed text, parsed by no one", () => {
    const plan = planAppend(batch());
    const live = logBatch("t", recordsOf(plan, 1, "r", 1));
    const parse = vi.spyOn(JSON, "parse");
    const text = Buffer.from(chunkOf(live.items)).toString();
    expect(parse).not.toHaveBeenCalled();
    expect(text).toBe(plan.json.map((j, i) => `id: ${i + 1}\ndata: ${j}\n\n`).join(""));
    // The items still hand an in-process follower its objects.
    expect(live.items[1]!.event).toEqual(JSON.parse(plan.json[1]!));
  });
});
