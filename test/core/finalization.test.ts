import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpAgent } from "@ag-ui/client";
import type { BaseEvent, Message } from "@ag-ui/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { interruptRun } from "../../src/core/recovery.js";
import { ViewBuilder } from "../../src/core/view.js";
import { RUN_ERROR_INCOMPLETE_STREAM } from "../../src/protocol.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { GateAgent, type GateRun, waitFor } from "../helpers/agents.js";
import { verifyWithAgUi } from "../helpers/verify.js";

/**
 * CopilotKit's run finalization contract (COMPAT.md), kept by every coordinator run: a run
 * that is stopped or breaks off closes what it opened, answers every tool call it left without a
 * result, and a stream that just ends is an error, never a success.
 */
let tl: Threadline;
let upstream: Server | undefined;
beforeEach(() => {
  GateAgent.reset();
  tl = createThreadline({ store: createMemoryStore(), agents: { gate: new GateAgent() } });
});
afterEach(async () => {
  await tl.close({ graceMs: 50 });
  upstream?.closeAllConnections();
  upstream?.close();
  upstream = undefined;
});

const logOf = async (threadId: string) =>
  (await tl.store.threads.read(threadId, { after: 0, limit: 10_000 })).map((r) => r.event);

const ended = (threadId: string, runId: string) =>
  waitFor(async () => {
    const run = await tl.store.runs.get(threadId, runId);
    return run && run.status !== "running" && run.status !== "queued" ? run : undefined;
  }, `run ${runId} to end`);

type ToolCallMessage = Message & { toolCalls?: { id: string }[]; toolCallId?: string };

/** Every assistant tool call in the thread has a tool message answering it. */
async function expectEveryToolCallAnswered(threadId: string) {
  const messages = (await tl.store.threads.get(threadId))!.messages as ToolCallMessage[];
  const calls = messages.flatMap((m) => (m.role === "assistant" ? (m.toolCalls ?? []) : []));
  expect(calls.length).toBeGreaterThan(0);
  const answered = new Set(messages.filter((m) => m.role === "tool").map((m) => m.toolCallId));
  expect(calls.filter((c) => !answered.has(c.id))).toEqual([]);
  return messages;
}

const toolCall = (run: GateRun, id: string, end = false) => {
  run.emit(
    { type: "TOOL_CALL_START", toolCallId: id, toolCallName: "search" } as BaseEvent,
    { type: "TOOL_CALL_ARGS", toolCallId: id, delta: '{"q":' } as BaseEvent,
  );
  if (end) run.emit({ type: "TOOL_CALL_END", toolCallId: id } as BaseEvent);
};

async function started(threadId: string) {
  const { runId } = await tl.startRun({ threadId, agentId: "gate" });
  const run = await GateAgent.nth(GateAgent.runs.length);
  run.started();
  return { runId, run };
}

describe("run finalization", () => {
  it("stop during an open tool call: closed, answered as stopped, then a cancelled RUN_FINISHED", async () => {
    const { runId, run } = await started("stop-open");
    run.text("m1", "let me look");
    run.emit({ type: "TEXT_MESSAGE_END", messageId: "m1" } as BaseEvent);
    toolCall(run, "tc-done", true); // ended, but no result yet
    toolCall(run, "tc-open"); // still streaming its arguments
    await waitFor(async () => (await logOf("stop-open")).length >= 9, "the tool calls committed");
    expect((await tl.cancelRun("stop-open", runId)).status).toBe("cancelled");
    const log = await logOf("stop-open");
    await verifyWithAgUi(log);
    expect(log.slice(-4).map((e) => e.type)).toEqual([
      "TOOL_CALL_END",
      "TOOL_CALL_RESULT",
      "TOOL_CALL_RESULT",
      "RUN_FINISHED",
    ]);
    const results = log.filter((e) => e.type === "TOOL_CALL_RESULT") as Array<
      BaseEvent & { toolCallId: string; content: string }
    >;
    expect(results.map((r) => r.toolCallId)).toEqual(["tc-done", "tc-open"]);
    for (const r of results) {
      expect(JSON.parse(r.content)).toMatchObject({ status: "stopped", reason: "stop_requested" });
    }
    expect(log.at(-1)).toMatchObject({ metadata: { threadline: { outcome: "cancelled" } } });
    const messages = await expectEveryToolCallAnswered("stop-open");
    // Each result right after the assistant message that made the call.
    expect(messages.map((m) => m.role)).toEqual([
      "assistant",
      "assistant",
      "tool",
      "assistant",
      "tool",
    ]);
  });

  it("a tool call answered before the stop gets no second result", async () => {
    const { runId, run } = await started("answered");
    toolCall(run, "tc-1", true);
    run.emit({
      type: "TOOL_CALL_RESULT",
      toolCallId: "tc-1",
      messageId: "r-1",
      content: "42",
      role: "tool",
    } as BaseEvent);
    await waitFor(async () => (await logOf("answered")).length >= 5, "committed");
    await tl.cancelRun("answered", runId);
    const log = await logOf("answered");
    await verifyWithAgUi(log);
    expect(log.filter((e) => e.type === "TOOL_CALL_RESULT")).toHaveLength(1);
  });

  it("a run the agent finishes keeps its unanswered (frontend) tool calls for the client", async () => {
    const { runId, run } = await started("frontend-tool");
    toolCall(run, "tc-ui", true);
    run.finish();
    expect((await ended("frontend-tool", runId)).status).toBe("succeeded");
    const log = await logOf("frontend-tool");
    await verifyWithAgUi(log);
    expect(log.some((e) => e.type === "TOOL_CALL_RESULT")).toBe(false);
  });

  it("an agent stream that ends without a terminal event is INCOMPLETE_STREAM, the run failed", async () => {
    const { runId, run } = await started("incomplete");
    run.text("m1", "the agent never finishes its message");
    run.emit({ type: "STEP_STARTED", stepName: "s" } as BaseEvent);
    toolCall(run, "tc-x");
    run.complete();
    const record = await ended("incomplete", runId);
    expect(record.status).toBe("failed");
    expect(record.error?.code).toBe(RUN_ERROR_INCOMPLETE_STREAM);
    const log = await logOf("incomplete");
    await verifyWithAgUi(log);
    expect(log.slice(-5).map((e) => e.type)).toEqual([
      "TOOL_CALL_END",
      "TEXT_MESSAGE_END",
      "TOOL_CALL_RESULT",
      "STEP_FINISHED",
      "RUN_ERROR",
    ]);
    expect(log.at(-1)).toMatchObject({ code: RUN_ERROR_INCOMPLETE_STREAM });
    const result = log.find((e) => e.type === "TOOL_CALL_RESULT") as BaseEvent & {
      content: string;
    };
    expect(JSON.parse(result.content)).toMatchObject({
      status: "error",
      reason: "missing_terminal_event",
    });
    await expectEveryToolCallAnswered("incomplete");
  });

  it("an agent that throws, or reports RUN_ERROR itself, leaves no tool call unanswered", async () => {
    const a = await started("throws");
    toolCall(a.run, "tc-a");
    await waitFor(async () => (await logOf("throws")).length >= 3, "committed");
    a.run.fail("model exploded");
    expect((await ended("throws", a.runId)).status).toBe("failed");
    await verifyWithAgUi(await logOf("throws"));
    await expectEveryToolCallAnswered("throws");

    const b = await started("reports");
    toolCall(b.run, "tc-b");
    b.run.emit({ type: "RUN_ERROR", message: "quota", code: "RATE_LIMIT" } as BaseEvent);
    b.run.complete();
    const record = await ended("reports", b.runId);
    expect(record.error).toEqual({ code: "RATE_LIMIT", message: "quota" });
    await verifyWithAgUi(await logOf("reports"));
    await expectEveryToolCallAnswered("reports");
  });

  it("a crashed run closed by recovery answers its open tool call", async () => {
    const store = tl.store;
    await store.threads.ensure("crashed");
    await store.runs.enqueue(
      {
        runId: "r-crash",
        threadId: "crashed",
        agentId: "gate",
        trigger: { kind: "api" },
        status: "queued",
        input: {},
        createdAt: Date.now(),
      },
      "enqueue",
    );
    const claimed = (await store.runs.claimNext("crashed", {
      owner: "dead-owner",
      leaseMs: 60_000,
      now: Date.now(),
    }))!;
    // What the process wrote before it died, with its view update.
    const view = new ViewBuilder([], {});
    const written = [
      { type: "RUN_STARTED", threadId: "crashed", runId: "r-crash" } as BaseEvent,
      { type: "TOOL_CALL_START", toolCallId: "tc-c", toolCallName: "search" } as BaseEvent,
    ];
    for (const e of written) view.apply(e);
    await store.threads.append("crashed", claimed.fence, written, view.takeUpdate());
    const run = (await store.runs.get("crashed", "r-crash"))!;
    expect(await interruptRun(store, { run, force: true }, "me", 1_000, Date.now())).toBe(true);
    const log = await logOf("crashed");
    await verifyWithAgUi(log);
    expect(log.map((e) => e.type)).toEqual([
      "RUN_STARTED",
      "TOOL_CALL_START",
      "TOOL_CALL_END",
      "TOOL_CALL_RESULT",
      "RUN_ERROR",
    ]);
    await expectEveryToolCallAnswered("crashed");
  });

  it("a truncated upstream HttpAgent stream ends with RUN_ERROR INCOMPLETE_STREAM", async () => {
    // An AG-UI endpoint that sends the start of a reply, then ends the response.
    upstream = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream" });
      const send = (e: Record<string, unknown>) => res.write(`data: ${JSON.stringify(e)}\n\n`);
      send({ type: "RUN_STARTED", threadId: "up", runId: "up-run" });
      send({ type: "TEXT_MESSAGE_START", messageId: "up-m", role: "assistant" });
      send({ type: "TEXT_MESSAGE_CONTENT", messageId: "up-m", delta: "cut sh" });
      res.end();
    });
    await new Promise<void>((r) => upstream!.listen(0, "127.0.0.1", r));
    const { port } = upstream.address() as AddressInfo;
    const local = createThreadline({
      store: createMemoryStore(),
      agents: { remote: new HttpAgent({ url: `http://127.0.0.1:${port}/agent` }) },
    });
    try {
      const { runId } = await local.startRun({ threadId: "up", agentId: "remote" });
      const record = await waitFor(async () => {
        const r = await local.store.runs.get("up", runId);
        return r && r.status !== "running" && r.status !== "queued" ? r : undefined;
      }, "the remote run to end");
      expect(record.status).toBe("failed");
      expect(record.error?.code).toBe(RUN_ERROR_INCOMPLETE_STREAM);
      const log = (await local.store.threads.read("up", { after: 0 })).map((r) => r.event);
      await verifyWithAgUi(log);
      expect(log.map((e) => e.type)).toEqual([
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_ERROR",
      ]);
    } finally {
      await local.close({ graceMs: 50 });
    }
  });
});
