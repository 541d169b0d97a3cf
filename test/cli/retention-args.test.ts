import { describe, expect, it } from "vitest";
import { parseServeArgs } from "../../src/cli/args.js";
import { configSchema } from "../../src/cli/config-schema.js";

describe("retention on the command line and in the config file", () => {
  it("--retention-* flags (or their environment variables) set the server's default policy", () => {
    const args = parseServeArgs(["--retention-runs", "1000", "--retention-idle-ms", "86400000"], {
      THREADLINE_RETENTION_SWEEP_MS: "5000",
      THREADLINE_RETENTION_RECLAIM_ROWS: "0",
    });
    expect(args.retention).toEqual({
      keepRuns: 1000,
      deleteIdleAfterMs: 86_400_000,
      sweepMs: 5000,
      reclaimAfterRows: 0,
    });
    expect(parseServeArgs([], {}).retention).toBeUndefined();
    expect(() => parseServeArgs(["--retention-runs=-1"], {})).toThrow(
      /--retention-runs must be a non-negative integer, got '-1'/,
    );
    expect(() => parseServeArgs([], { THREADLINE_RETENTION_MAX_AGE_MS: "soon" })).toThrow(
      /--retention-max-age-ms must be a non-negative integer/,
    );
  });

  it("the config file's retention and history are checked", () => {
    expect(configSchema.safeParse({ retention: { keepRuns: 10, sweepMs: 0 } }).success).toBe(true);
    expect(configSchema.safeParse({ retention: { keepRuns: -1 } }).success).toBe(false);
    expect(configSchema.safeParse({ retention: { reclaimAfterRows: 500 } }).success).toBe(true);
    expect(configSchema.safeParse({ retention: { reclaimAfterRows: -1 } }).success).toBe(false);
    expect(configSchema.safeParse({ retention: { keepRun: 1 } }).success).toBe(false);
    expect(configSchema.safeParse({ history: { demo: { lastMessages: 20 } } }).success).toBe(true);
    expect(configSchema.safeParse({ history: { demo: { lastMessages: 0 } } }).success).toBe(false);
  });
});
