import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BaseEvent } from "@ag-ui/core";
import type { Browser, Page, Response } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunRecord, ThreadView } from "../../src/core/types.js";
import { launchBrowser, withScreenshotOnFailure } from "../helpers/browser.js";
import { messageTexts, sharedChatBuild, waitForReply } from "../helpers/chat-page.js";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.js";
import { collectFrames, readFrames } from "../helpers/sse.js";
import { serveStatic } from "../helpers/static-server.js";
import { verifyWithAgUi } from "../helpers/verify.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Issue 15's first "Done when", end to end: a scheduled run (the demo agent, scripted to ask)
 * interrupts on a real `threadline serve` process on an SQLite file; the process is killed
 * (SIGKILL) and started again; an hour of its (manual) clock later a person opens the stock
 * CopilotKit chat — and, on another thread, the inspector — sees the question, answers it, and
 * the agent's resume run streams into that page. The CopilotKit streams the chat received and a
 * follow of the inspector's thread pass both AG-UI verifiers (0.0.59 and 1.0).
 *
 * The server's time is a `ManualClock` given through its config file
 * (`test/helpers/manual-clock.config.ts`, test-only), moved over a loopback control port.
 */
const HOUR = 3_600_000;
const CONFIG = fileURLToPath(new URL("../helpers/manual-clock.config.ts", import.meta.url));
const CLOCK_LINE = /threadline-test-clock (http:\/\/127\.0\.0\.1:\d+)/;

const dir = mkdtempSync(join(tmpdir(), "tl-hitl-restart-"));
const store = `sqlite:${join(dir, "threadline.db")}`;
/** The clock's start (whole seconds), and the minute the nightly schedules fire at. */
const T0 = Math.floor(Date.now() / 1000) * 1000;
const FIRE = Math.ceil((T0 + 1) / 60_000) * 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

let browser: Browser;
let site: { url: string; close(): Promise<void> };
let server: ServerProcess | undefined;
let clockUrl = "";
const pageErrors: string[] = [];

/** `threadline serve` on the SQLite file, its clock starting at `clockStart`. */
async function start(clockStart: number): Promise<ServerProcess> {
  const args = ["--port", "0", "--store", store, "--config", CONFIG, "--heartbeat-ms", "0"];
  // The chat page is served from another origin: the API and the socket must let it in.
  args.push("--cors", site.url);
  const child = await startServerProcess(
    args,
    { THREADLINE_TEST_CLOCK_START: String(clockStart) },
    // tsx compiles the server on start: slow on a loaded machine.
    { startTimeoutMs: 60_000 },
  );
  clockUrl = (
    await waitFor(() => CLOCK_LINE.exec(child.output()), "the clock's control port", 10_000)
  )[1]!;
  return child;
}

async function clock(path: string, method = "GET"): Promise<number> {
  const res = await fetch(`${clockUrl}${path}`, { method });
  expect(res.status).toBe(200);
  return ((await res.json()) as { now: number }).now;
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${server!.url}${path}`, {
    ...init,
    headers: { "content-type": "application/json", ...init?.headers },
  });
  const body = (await res.json()) as T;
  if (!res.ok)
    throw new Error(`${init?.method ?? "GET"} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The demo agent's scripted question, asked by a nightly schedule's run on `threadId`. */
function nightly(threadId: string, interruptId: string) {
  return {
    id: `nightly-${threadId}`,
    agentId: "demo",
    threadId,
    // Daily at FIRE's time of day (a cron schedule: its runs are `trigger.kind: "schedule"`).
    cron: `${new Date(FIRE).getUTCMinutes()} ${new Date(FIRE).getUTCHours()} * * *`,
    timezone: "UTC",
    input: {
      messages: [{ role: "user", content: "Prepare the weekly report" }],
      forwardedProps: {
        demo: {
          delayMs: 0,
          interrupt: {
            id: interruptId,
            reason: "confirmation",
            message: "Send the weekly report to ACME?",
            responseSchema: {
              type: "object",
              properties: { approved: { type: "boolean" } },
              required: ["approved"],
            },
            expiresAt: iso(T0 + 3 * HOUR),
          },
        },
      },
    },
  };
}

const thread = (id: string) => api<ThreadView>(`/threads/${id}`);
const runs = async (id: string) => (await api<{ runs: RunRecord[] }>(`/threads/${id}/runs`)).runs;

/** Events of SSE bodies the page received (parsed by the tests' own SSE reader). */
async function eventsOf(text: string): Promise<BaseEvent[]> {
  const events: BaseEvent[] = [];
  for await (const frame of readFrames(new globalThis.Response(text).body!)) {
    if (frame.data) events.push(frame.data);
  }
  return events;
}

beforeAll(async () => {
  const build = sharedChatBuild();
  browser = await launchBrowser();
  site = await serveStatic(await build);
  server = await start(T0);
  for (const t of ["chat-approvals", "inspector-approvals"]) {
    await api("/schedules", { method: "POST", body: JSON.stringify(nightly(t, `send-${t}`)) });
  }
  // The night: the schedules tick and their runs ask.
  await clock(`/advance?ms=${FIRE - T0}`, "POST");
  for (const t of ["chat-approvals", "inspector-approvals"]) {
    await waitFor(async () => (await thread(t)).interrupts.length === 1, `${t}'s question`, 30_000);
  }
  // Killed with the questions pending, started again where its clock was, then an hour passes.
  const at = await clock("/now");
  await server.kill9();
  server = await start(at);
  await clock(`/advance?ms=${HOUR}`, "POST");
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

async function openPage(url: string): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(url);
  return page;
}

// A browser on a loaded 2-core machine: generous per-test deadlines (the waits inside have their own).
describe("a scheduled run's question, answered after a restart and an hour", {
  timeout: 90_000,
}, () => {
  it("the questions survived the kill and the hour, asked by the schedules' runs", async () => {
    expect(await clock("/now")).toBe(FIRE + HOUR);
    for (const t of ["chat-approvals", "inspector-approvals"]) {
      expect((await thread(t)).interrupts).toEqual([
        expect.objectContaining({ id: `send-${t}`, expiresAt: iso(T0 + 3 * HOUR) }),
      ]);
      const [run, ...older] = await runs(t);
      expect(older).toEqual([]);
      expect(run).toMatchObject({
        status: "succeeded",
        trigger: { kind: "schedule", scheduleId: `nightly-${t}`, fireAt: iso(FIRE) },
      });
    }
  });

  it("in the stock CopilotKit chat (useInterrupt): seen, approved, and the resume run streams in", async () => {
    const streams: Promise<{ url: string; events: BaseEvent[] }>[] = [];
    const page = await browser.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("response", (res: Response) => {
      if (!/\/copilotkit\/agent\/demo\/(connect|run)$/.test(res.url())) return;
      const stream = res
        .text()
        .then(async (text) => ({ url: res.url(), events: await eventsOf(text) }));
      // A connect still open when the page closes never ends: its body is never read. Handled
      // here so that its rejection is not an unhandled one; the streams awaited below all ended.
      stream.catch(() => undefined);
      streams.push(stream);
    });
    await withScreenshotOnFailure(page, "hitl-restart-chat", async () => {
      await page.goto(
        `${site.url}/?${new URLSearchParams({ server: server!.url, thread: "chat-approvals" })}`,
      );
      const card = page.locator(
        '[data-testid=chat-interrupt][data-interrupt-id="send-chat-approvals"]',
      );
      await card.waitFor({ timeout: 30_000 });
      expect(await card.locator("[data-testid=chat-interrupt-message]").textContent()).toBe(
        "Send the weekly report to ACME?",
      );
      expect(await card.locator("time").getAttribute("datetime")).toBe(iso(T0 + 3 * HOUR));
      // The scheduled run's own reply is in the chat, from the connect's snapshot.
      expect(await messageTexts(page)).toEqual(["You said: Prepare the weekly report"]);

      await card.locator("[data-testid=chat-interrupt-approve]").click();
      await waitForReply(page, 'You answered: send-chat-approvals resolved {"approved":true}');
      await card.waitFor({ state: "detached" });
    });
    // Answered on the server: nothing pending, the resume run is CopilotKit's with `resume`.
    expect((await thread("chat-approvals")).interrupts).toEqual([]);
    // The reply is on the page before the run's RUN_FINISHED is (the text comes first).
    const resumeRun = await waitFor(
      async () => {
        const [latest] = await runs("chat-approvals");
        return latest?.status === "succeeded" ? latest : undefined;
      },
      "the resume run to finish",
      30_000,
    );
    expect(resumeRun).toMatchObject({
      status: "succeeded",
      input: {
        resume: [
          { interruptId: "send-chat-approvals", status: "resolved", payload: { approved: true } },
        ],
      },
    });

    const seen = await Promise.all(streams);
    const connect = seen.filter((s) => s.url.endsWith("/connect"));
    const run = seen.filter((s) => s.url.endsWith("/run"));
    expect(run).toHaveLength(1);
    expect(connect.length).toBeGreaterThanOrEqual(1);
    // The connect told the chat in AG-UI's terms: its snapshot run ends with the interrupt.
    const finished = connect[0]!.events.filter((e) => e.type === "RUN_FINISHED");
    expect(finished.at(-1)).toMatchObject({
      outcome: { type: "interrupt", interrupts: [{ id: "send-chat-approvals" }] },
    });
    // The resume run streamed through the chat's own run request, word by word.
    const runEvents = run[0]!.events;
    expect(runEvents[0]).toMatchObject({ type: "RUN_STARTED", runId: resumeRun!.runId });
    expect(runEvents.filter((e) => e.type === "TEXT_MESSAGE_CONTENT").length).toBeGreaterThan(2);
    expect(runEvents.at(-1)?.type).toBe("RUN_FINISHED");
    for (const s of seen) await verifyWithAgUi(s.events);
    await page.close();
  });

  it("in the inspector: seen with its badge, approved, and the resume run streams in", async () => {
    // A follower of the thread (what the inspector's follow stream is: compact, then live).
    const follow = await fetch(`${server!.url}/threads/inspector-approvals/events`, {
      headers: { accept: "text/event-stream" },
    });
    const frames = collectFrames(
      follow.body!,
      (fs) => fs.filter((f) => f.data?.type === "RUN_FINISHED").length >= 2,
      30_000,
    );
    const page = await openPage(server!.url);
    await withScreenshotOnFailure(page, "hitl-restart-inspector", async () => {
      const item = page.locator("[data-testid=thread-item][data-thread-id=inspector-approvals]");
      expect(await item.locator("[data-testid=interrupt-badge]").textContent()).toBe("1 waiting");
      await item.click();
      const card = page.locator(
        '[data-testid=interrupt][data-interrupt-id="send-inspector-approvals"]',
      );
      await card.waitFor();
      expect(await card.locator("[data-testid=interrupt-message]").textContent()).toBe(
        "Send the weekly report to ACME?",
      );
      await card.locator("[data-field=approved]").check();
      await card.locator("[data-testid=interrupt-resolve]").click();
      await page
        .locator("[data-testid=message][data-role=assistant][data-streaming=false] .content", {
          hasText: 'You answered: send-inspector-approvals resolved {"approved":true}',
        })
        .waitFor();
      await page.locator("[data-testid=interrupts]").waitFor({ state: "hidden" });
    });
    const events = (await frames).flatMap((f) => (f.data ? [f.data] : []));
    const [snapshotEnd, resumeEnd] = events.filter((e) => e.type === "RUN_FINISHED");
    expect(snapshotEnd).toMatchObject({
      outcome: { type: "interrupt", interrupts: [{ id: "send-inspector-approvals" }] },
    });
    expect(resumeEnd).not.toHaveProperty("outcome.type", "interrupt");
    const resumeStart = events.filter((e) => e.type === "RUN_STARTED")[1];
    expect(resumeStart).toMatchObject({
      input: { resume: [{ interruptId: "send-inspector-approvals", status: "resolved" }] },
      metadata: { threadline: { trigger: { kind: "client", source: "interrupt" } } },
    });
    await verifyWithAgUi(events);
    await page.close();
  });
});
