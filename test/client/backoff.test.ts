import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/client/backoff.js";

describe("backoffDelay", () => {
  it("grows exponentially up to the cap", () => {
    const noJitter = { initialMs: 100, maxMs: 1000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, noJitter))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("jitter keeps each delay between (1 - jitter) and all of its step", () => {
    const opts = { initialMs: 100, maxMs: 1000, jitter: 0.5 };
    expect(backoffDelay(3, { ...opts, random: () => 0 })).toBe(200);
    expect(backoffDelay(3, { ...opts, random: () => 0.999999 })).toBe(400);
    expect(backoffDelay(3, { ...opts, random: () => 0.5 })).toBe(300);
  });
});
