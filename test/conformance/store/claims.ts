import { describe, expect, it } from "vitest";
import { type SuiteContext, uid } from "./fixtures.js";

interface TestSchedule {
  id: string;
  cron: string;
  paused?: boolean;
  input: { messages: { id: string; role: string; content: string }[] };
  [key: string]: unknown;
}

/** Exactly-once claims and schedule records. */
export function claimTests(ctx: SuiteContext): void {
  describe("claims", () => {
    it("a key is claimed exactly once under concurrency", async () => {
      const store = ctx.store();
      const key = uid("tick");
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          store.records.claim(key, { owner: `owner-${i}`, now: Date.now(), leaseMs: 60_000 }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(
        await store.records.claim(key, { owner: "late", now: Date.now(), leaseMs: 60_000 }),
      ).toBe(false);
      expect(
        await store.records.claim(uid("tick"), {
          owner: "other",
          now: Date.now(),
          leaseMs: 60_000,
        }),
      ).toBe(true);
    });
  });

  describe("claims expire", () => {
    it("a claim holds the key until now + leaseMs, then the key may be claimed again", async () => {
      const store = ctx.store();
      const key = uid("tick");
      const at = (owner: string, now: number) =>
        store.records.claim(key, { owner, now, leaseMs: 60_000 });
      expect(await at("a", 1_000)).toBe(true);
      expect(await at("a", 1_001)).toBe(false); // not a renewal: claimed once means once
      expect(await at("b", 60_999)).toBe(false);
      expect(await at("b", 61_000)).toBe(true);
      expect(await at("c", 61_000)).toBe(false);
    });
  });

  describe("leases", () => {
    it("one owner at a time: renewed by its owner, taken over once expired", async () => {
      const store = ctx.store();
      const key = `lease:${uid("sweep")}`;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.records.lease(key, { owner: `o${i}`, leaseMs: 1_000, now: 10_000 }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const holder = `o${results.indexOf(true)}`;
      const other = holder === "o0" ? "o1" : "o0";
      expect(await store.records.lease(key, { owner: other, leaseMs: 1_000, now: 10_999 })).toBe(
        false,
      );
      // The holder renews (even late in its lease), which moves the expiry.
      expect(await store.records.lease(key, { owner: holder, leaseMs: 1_000, now: 10_900 })).toBe(
        true,
      );
      expect(await store.records.lease(key, { owner: other, leaseMs: 1_000, now: 11_500 })).toBe(
        false,
      );
      // Expired: another owner takes it, and the old holder is now refused.
      expect(await store.records.lease(key, { owner: other, leaseMs: 1_000, now: 11_900 })).toBe(
        true,
      );
      expect(await store.records.lease(key, { owner: holder, leaseMs: 1_000, now: 12_000 })).toBe(
        false,
      );
      // Leases do not touch exactly-once claims of other keys.
      expect(await store.records.claim(uid("tick"), { owner: "x", now: 1, leaseMs: 60_000 })).toBe(
        true,
      );
    });
  });

  describe("schedules", () => {
    it("creates, reads, updates, lists and deletes schedules", async () => {
      const store = ctx.store();
      const a: TestSchedule = {
        id: uid("s"),
        cron: "*/5 * * * *",
        input: { messages: [{ id: "m", role: "user", content: "tick" }] },
      };
      const b: TestSchedule = { id: uid("s"), cron: "0 9 * * 1", input: { messages: [] } };
      await store.records.putSchedule(a);
      await store.records.putSchedule(b);
      expect(await store.records.getSchedule<TestSchedule>(a.id)).toEqual(a);
      expect(await store.records.getSchedule(uid("none"))).toBeNull();
      await store.records.putSchedule({ ...a, paused: true });
      expect(await store.records.getSchedule<TestSchedule>(a.id)).toEqual({ ...a, paused: true });
      const listed = await store.records.listSchedules<TestSchedule>();
      const ours = listed.filter((s) => s.id === a.id || s.id === b.id);
      expect(ours.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(
        [{ ...a, paused: true }, b].sort((x, y) => (x.id < y.id ? -1 : 1)),
      );
      expect(await store.records.deleteSchedule(a.id)).toBe(true);
      expect(await store.records.deleteSchedule(a.id)).toBe(false);
      expect(await store.records.getSchedule(a.id)).toBeNull();
      expect((await store.records.listSchedules()).map((s) => s.id)).toContain(b.id);
    });

    it("returns copies: changing a returned schedule does not change the store", async () => {
      const store = ctx.store();
      const s: TestSchedule = { id: uid("s"), cron: "* * * * *", input: { messages: [] } };
      await store.records.putSchedule(s);
      const got = (await store.records.getSchedule<TestSchedule>(s.id))!;
      got.cron = "changed";
      s.cron = "changed too";
      expect((await store.records.getSchedule<TestSchedule>(s.id))!.cron).toBe("* * * * *");
    });
  });
}
