import { describe, expect, it } from "vitest";
import { parseServeArgs } from "../../src/cli/args.js";
import { configSchema } from "../../src/cli/config-schema.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";

describe("interrupt expiry on the command line, in the config file and in options", () => {
  it("--interrupt-expiry (or THREADLINE_INTERRUPT_EXPIRY) sets the server's action", () => {
    expect(parseServeArgs(["--interrupt-expiry", "record"], {}).interruptExpiry).toBe("record");
    expect(parseServeArgs([], { THREADLINE_INTERRUPT_EXPIRY: "resume" }).interruptExpiry).toBe(
      "resume",
    );
    expect(parseServeArgs([], {}).interruptExpiry).toBeUndefined();
    expect(() => parseServeArgs(["--interrupt-expiry", "ignore"], {})).toThrow(
      /--interrupt-expiry must be resume or record, got "ignore"/,
    );
  });

  it("the config file's `interrupts` is checked, and so are createThreadline's options", () => {
    const ok = { interrupts: { onExpiry: "record", agents: { demo: "resume" }, pollMs: 1000 } };
    expect(configSchema.safeParse(ok).success).toBe(true);
    expect(configSchema.safeParse({ interrupts: { onExpiry: "skip" } }).success).toBe(false);
    expect(configSchema.safeParse({ interrupts: { agents: { demo: "never" } } }).success).toBe(
      false,
    );
    expect(() =>
      createThreadline({
        store: createMemoryStore(),
        agents: {},
        // @ts-expect-error: a JavaScript caller's typo is refused at once
        interrupts: { agents: { demo: "later" } },
      }),
    ).toThrow(/interrupts.agents.demo must be resume or record, got "later"/);
  });
});
