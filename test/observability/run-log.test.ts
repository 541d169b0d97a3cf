import { Writable } from "node:stream";
import { AbstractAgent } from "@ag-ui/client";
import type { BaseEvent, RunAgentInput } from "@ag-ui/core";
import pino from "pino";
import { Observable } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { captureConsole } from "../../src/observability/console-capture.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { endedRun, waitFor } from "../helpers/wait-for.js";

/** A pino logger writing JSON lines into `lines`. */
function memoryLogger(level = "info") {
  const lines: Record<string, unknown>[] = [];
  let partial = "";
  const stream = new Writable({
    write(chunk, _enc, done) {
      partial += chunk.toString();
      for (let i = partial.indexOf("\n"); i >= 0; i = partial.indexOf("\n")) {
        lines.push(JSON.parse(partial.slice(0, i)));
        partial = partial.slice(i + 1);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** An agent that fails the way a library prints: a stack trace through console.error. */
class NoisyAgent extends AbstractAgent {
  override clone(): NoisyAgent {
    return new NoisyAgent();
  }
  override run(_input: RunAgentInput): Observable<BaseEvent> {
    return new Observable<BaseEvent>((sub) => {
      console.error("Agent execution failed:", new Error("upstream said no"));
      sub.error(new Error("upstream said no"));
    });
  }
}

const open: Threadline[] = [];
const restore: (() => void)[] = [];
afterEach(async () => {
  for (const r of restore.splice(0)) r();
  await Promise.all(open.splice(0).map((tl) => tl.close({ graceMs: 50 })));
});

describe("logs an operator can read", () => {
  it("one line per request: method, route pattern, status, duration, principal", async () => {
    const { logger, lines } = memoryLogger();
    const tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      logger,
      token: "tok",
    });
    open.push(tl);
    await tl.app.request("/threads/t1", { headers: { authorization: "Bearer tok" } });
    await tl.app.request("/threads");
    const requests = lines.filter((l) => l.msg === "request");
    expect(requests).toEqual([
      expect.objectContaining({
        method: "GET",
        route: "/threads/:threadId",
        status: 404,
        principal: "token:token",
        durationMs: expect.any(Number),
      }),
      expect.objectContaining({ method: "GET", route: "/threads", status: 401 }),
    ]);
    expect(requests[1]).not.toHaveProperty("principal");
    // Never the path with its ids in `route` (it is the pattern).
    expect(JSON.stringify(requests[0]!.route)).not.toContain("t1");
  });

  it("one line per run transition: queued, started, ended with status, error code, duration, events", async () => {
    const { logger, lines } = memoryLogger();
    const tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      logger,
    });
    open.push(tl);
    await tl.ready;
    const good = await tl.startRun({
      threadId: "t",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, tokens: 3 } } },
    });
    await endedRun(tl.store, "t", good.runId);
    // The thread's first run: its events are the log so far.
    const goodEvents = (await tl.store.threads.head("t"))!.lastSeq;
    const bad = await tl.startRun({
      threadId: "t",
      agentId: "demo",
      input: { forwardedProps: { demo: { fail: "nope" } } },
    });
    await endedRun(tl.store, "t", bad.runId);
    await waitFor(() => lines.filter((l) => l.msg === "run ended").length === 2, "two ended lines");
    const of = (runId: string) => lines.filter((l) => l.runId === runId && l.transition);
    expect(of(good.runId).map((l) => l.transition)).toEqual(["queued", "started", "ended"]);
    expect(of(good.runId)[2]).toMatchObject({
      threadId: "t",
      agentId: "demo",
      trigger: "api",
      status: "succeeded",
      durationMs: expect.any(Number),
      events: goodEvents,
    });
    const badEnd = of(bad.runId)[2]!;
    expect(badEnd).toMatchObject({ status: "failed", errorCode: "AGENT_ERROR", level: 40 });
  });

  it("third-party console output lands in the structured log as one line, stack included", async () => {
    const { logger, lines } = memoryLogger();
    restore.push(captureConsole(logger));
    const tl = createThreadline({
      store: createMemoryStore(),
      agents: { noisy: new NoisyAgent() },
      logger,
    });
    open.push(tl);
    await tl.ready;
    const { runId } = await tl.startRun({ threadId: "n", agentId: "noisy" });
    expect((await endedRun(tl.store, "n", runId)).status).toBe("failed");
    const printed = lines.find((l) => l.source === "console");
    expect(printed).toMatchObject({ level: 50, msg: "Agent execution failed:" });
    expect((printed!.err as { stack: string }).stack).toMatch(/upstream said no\n\s+at /);
    console.log("plain %s", "text");
    expect(lines.at(-1)).toMatchObject({ source: "console", level: 30, msg: "plain text" });
  });
});
