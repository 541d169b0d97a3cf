import { describe, expect, it } from "vitest";
import { ThreadlineError } from "../../src/core/errors.js";
import { configuredExpiryAction, expirySettings } from "../../src/core/expiry-settings.js";
import {
  type InterruptLinkGrant,
  interruptLinkPath,
  makeInterruptLink,
} from "../../src/core/interrupt-link.js";
import type { ThreadSummary } from "../../src/core/types.js";

/** The ThreadlineError `fn` throws (fails the test when it throws something else or nothing). */
function refusal(fn: () => unknown): ThreadlineError {
  try {
    fn();
  } catch (error) {
    if (ThreadlineError.is(error)) return error;
    throw error;
  }
  throw new Error("expected a ThreadlineError");
}

describe("the server's interrupt expiry action (flag, then environment)", () => {
  const sources = (flag?: string, env?: string) =>
    [
      ["--interrupt-expiry", flag],
      ["THREADLINE_INTERRUPT_EXPIRY", env],
    ] as const;

  it("is the first source that has a value, and undefined when none has", () => {
    expect(configuredExpiryAction(sources("record", "resume"))).toBe("record");
    expect(configuredExpiryAction(sources(undefined, "record"))).toBe("record");
    expect(configuredExpiryAction(sources())).toBeUndefined();
  });

  it("refuses a bad value with a ThreadlineError naming where it came from", () => {
    const flag = refusal(() => configuredExpiryAction(sources("ignore", "resume")));
    expect(flag).toMatchObject({ code: "VALIDATION_FAILED", status: 400 });
    expect(flag.message).toBe('--interrupt-expiry must be resume or record, got "ignore"');
    const env = refusal(() => configuredExpiryAction(sources(undefined, "RESUME")));
    expect(env.message).toBe('THREADLINE_INTERRUPT_EXPIRY must be resume or record, got "RESUME"');
    expect(refusal(() => configuredExpiryAction(sources(""))).message).toMatch(/got ""/);
  });
});

describe("the expirer's settings from the server's options", () => {
  it("defaults the poll to the schedule sync and the grace to the scheduler's", () => {
    expect(expirySettings(undefined)).toEqual({});
    expect(expirySettings(undefined, { syncMs: 2_000, misfireGraceMs: 700 })).toEqual({
      pollMs: 2_000,
      misfireGraceMs: 700,
    });
    expect(
      expirySettings(
        { onExpiry: "record", agents: { a: "resume" }, pollMs: 500 },
        { syncMs: 2_000 },
      ),
    ).toEqual({ onExpiry: "record", agents: { a: "resume" }, pollMs: 500 });
  });

  it("refuses a bad action or poll with a ThreadlineError naming the option", () => {
    const bad = (options: unknown) =>
      refusal(() => expirySettings(options as Parameters<typeof expirySettings>[0]));
    expect(bad({ onExpiry: "skip" })).toMatchObject({
      code: "VALIDATION_FAILED",
      message: 'interrupts.onExpiry must be resume or record, got "skip"',
    });
    expect(bad({ agents: { demo: 3 } }).message).toBe(
      "interrupts.agents.demo must be resume or record, got 3",
    );
    for (const pollMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "10"]) {
      expect(bad({ pollMs }).message).toMatch(/^interrupts.pollMs must be a positive number/);
    }
  });
});

describe("a signed interrupt link", () => {
  const head: ThreadSummary = {
    threadId: "t/1",
    createdAt: 5,
    updatedAt: 6,
    lastSeq: 9,
    horizon: 0,
    activeRunId: null,
    metadata: {},
    interrupts: [{ id: "ask me", reason: "approval" }],
  };

  it("answers at the interrupt's route, ids encoded, the token in the query", () => {
    expect(interruptLinkPath("t/1", "ask me", "a.b.c")).toBe(
      "/threads/t%2F1/interrupts/ask%20me?access_token=a.b.c",
    );
  });

  it("is made from the thread as it is now and signed by the signer it was given", async () => {
    const minted: [InterruptLinkGrant, number][] = [];
    const link = await makeInterruptLink(
      {
        head: async () => head,
        now: () => 1_000,
        mint: async (grant, expiresAt) => {
          minted.push([grant, expiresAt]);
          return "tok";
        },
      },
      { threadId: "t/1", interruptId: "ask me", ttlMs: 60_000, sub: "ann" },
    );
    expect(link).toEqual({
      token: "tok",
      path: "/threads/t%2F1/interrupts/ask%20me?access_token=tok",
      expiresAt: 61_000,
    });
    expect(minted).toEqual([
      [
        {
          threadId: "t/1",
          interruptId: "ask me",
          statuses: ["resolved", "cancelled"],
          seq: 9,
          createdAt: 5,
          sub: "ann",
        },
        61_000,
      ],
    ]);
    await expect(
      makeInterruptLink(
        { head: async () => null, now: () => 0, mint: async () => "never" },
        { threadId: "gone", interruptId: "x" },
      ),
    ).rejects.toMatchObject({ code: "THREAD_NOT_FOUND" });
  });
});
