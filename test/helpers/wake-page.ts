import type { Page } from "playwright-core";

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

/**
 * Watches a page's run-activity websocket(s) as the browser sees them: every Phoenix frame the
 * page received, and whether its `user_meta:` channel is joined (the chat's wake is armed).
 */
export class SocketWatch {
  readonly received: Frame[] = [];
  private readonly joinRefs = new Set<string>();
  opened = 0;

  constructor(page: Page) {
    page.on("websocket", (ws) => {
      this.opened += 1;
      ws.on("framesent", ({ payload }) => {
        const f = parse(payload);
        if (f && f[3] === "phx_join" && f[2].startsWith("user_meta:") && f[1])
          this.joinRefs.add(f[1]);
      });
      ws.on("framereceived", ({ payload }) => {
        const f = parse(payload);
        if (f) this.received.push(f);
      });
    });
  }

  /** Number of successful `user_meta:` joins so far (a rejoin after a restart adds one). */
  get joins(): number {
    return this.received.filter(
      (f) =>
        f[3] === "phx_reply" && f[1] !== null && this.joinRefs.has(f[1]) && f[4].status === "ok",
    ).length;
  }

  /** `thread_run_activity` payloads received. */
  activity(): Record<string, unknown>[] {
    return this.received.filter((f) => f[3] === "thread_run_activity").map((f) => f[4]);
  }

  async waitForJoins(n: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.joins < n) {
      if (Date.now() > deadline)
        throw new Error(`the page's socket did not join (${this.joins}/${n})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function parse(payload: string | Buffer): Frame | null {
  try {
    const f = JSON.parse(payload.toString()) as unknown;
    return Array.isArray(f) && f.length === 5 ? (f as Frame) : null;
  } catch {
    return null;
  }
}
