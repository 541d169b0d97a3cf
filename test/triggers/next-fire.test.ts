import { describe, expect, it } from "vitest";
import { ManualClock, nextFireAfter } from "../../src/core/scheduler/index.js";

const at = (s: string) => Date.parse(s);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("nextFireAfter", () => {
  it("puts interval ticks on multiples since the epoch, so every process agrees", () => {
    const s = { everyMs: 60_000 };
    expect(iso(nextFireAfter(s, at("2030-01-01T10:00:30.123Z")))).toBe("2030-01-01T10:01:00.000Z");
    // Strictly after: a tick exactly at `after` is the one that just fired.
    expect(iso(nextFireAfter(s, at("2030-01-01T10:01:00.000Z")))).toBe("2030-01-01T10:02:00.000Z");
  });

  it("anchors intervals at startAt (inclusive) and stops before endAt (exclusive)", () => {
    const s = {
      everyMs: 1000,
      startAt: "2030-01-01T00:00:00.250Z",
      endAt: "2030-01-01T00:00:02.250Z",
    };
    expect(iso(nextFireAfter(s, at("2029-12-31T00:00:00Z")))).toBe("2030-01-01T00:00:00.250Z");
    expect(iso(nextFireAfter(s, at("2030-01-01T00:00:00.250Z")))).toBe("2030-01-01T00:00:01.250Z");
    expect(nextFireAfter(s, at("2030-01-01T00:00:01.250Z"))).toBeNull();
  });

  it("reads cron expressions (with seconds) in their timezone, across DST", () => {
    const s = { cron: "0 0 9 * * *", timezone: "Europe/Berlin" };
    expect(iso(nextFireAfter(s, at("2030-01-15T12:00:00Z")))).toBe("2030-01-16T08:00:00.000Z");
    expect(iso(nextFireAfter(s, at("2030-07-15T12:00:00Z")))).toBe("2030-07-16T07:00:00.000Z");
    expect(iso(nextFireAfter({ cron: "*/15 * * * * *" }, at("2030-01-01T00:00:14.999Z")))).toBe(
      "2030-01-01T00:00:15.000Z",
    );
  });

  it("honours startAt and endAt for cron", () => {
    const s = {
      cron: "0 * * * *",
      startAt: "2030-01-01T05:00:00Z",
      endAt: "2030-01-01T07:00:00Z",
    };
    expect(iso(nextFireAfter(s, at("2030-01-01T00:00:00Z")))).toBe("2030-01-01T05:00:00.000Z");
    expect(iso(nextFireAfter(s, at("2030-01-01T05:00:00Z")))).toBe("2030-01-01T06:00:00.000Z");
    expect(nextFireAfter(s, at("2030-01-01T06:00:00Z"))).toBeNull();
  });
});

describe("ManualClock", () => {
  it("fires due timers in time order at their exact instant, awaiting each", async () => {
    const clock = new ManualClock(1_000);
    const seen: string[] = [];
    clock.setTimer(() => seen.push(`b@${clock.now()}`), 200);
    clock.setTimer(async () => {
      seen.push(`a@${clock.now()}`);
      await Promise.resolve();
      // Armed from inside a timer, within the window: fires in the same advance.
      clock.setTimer(() => seen.push(`c@${clock.now()}`), 50);
    }, 100);
    const cancelled = clock.setTimer(() => seen.push("never"), 150);
    cancelled.cancel();
    await clock.advance(300);
    expect(seen).toEqual(["a@1100", "c@1150", "b@1200"]);
    expect(clock.now()).toBe(1_300);
    clock.setTimer(() => seen.push("late"), 10);
    clock.jumpTo(5_000);
    expect(seen).not.toContain("late");
    await clock.advance(0);
    expect(seen).toContain("late");
  });
});
