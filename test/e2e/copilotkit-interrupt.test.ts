import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { launchBrowser, withScreenshotOnFailure } from "../helpers/browser.js";
import {
  send,
  sharedChatBuild,
  waitForFollow,
  waitForReply,
  waitForRunning,
} from "../helpers/chat-page.js";
import { serveStatic } from "../helpers/static-server.js";
import { endedRun } from "../helpers/wait-for.js";
import { SocketWatch } from "../helpers/wake-page.js";

/**
 * CopilotKit's stock chat and `useInterrupt` against Threadline's CopilotKit surface, in
 * Chromium: a run the chat started itself asks (the demo agent, `?interrupt=1`), the question is
 * rendered in the chat, and answering it is CopilotKit's own run with `resume` — which pins the
 * run id of the run that asked (CopilotKit's `runAgent({ resume, runId })`). A server run after
 * the restart case lives in `interrupt-after-restart.test.ts`.
 */
let tl: Threadline;
let api: { url: string; close(): Promise<void> };
let site: { url: string; close(): Promise<void> };
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  const build = sharedChatBuild();
  site = await serveStatic(await build);
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { demo: new DemoAgent() },
    cors: [site.url],
  });
  api = await tl.listen({ port: 0 });
  browser = await launchBrowser();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await api?.close();
  await tl?.close({ graceMs: 50 });
});

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

const sockets = new WeakMap<Page, SocketWatch>();
async function openChat(thread: string, query: Record<string, string> = {}): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  sockets.set(page, new SocketWatch(page));
  await page.goto(`${site.url}/?${new URLSearchParams({ server: api.url, thread, ...query })}`);
  await waitForRunning(page, false);
  return page;
}

/** Waits for the demo agent's question of run `runId` in the chat, approves it, sees the answer. */
async function approveInChat(page: Page, runId: string): Promise<void> {
  const card = page.locator(`[data-testid=chat-interrupt][data-interrupt-id="approve-${runId}"]`);
  await card.waitFor({ timeout: 20_000 });
  await card.locator("[data-testid=chat-interrupt-approve]").click();
  await waitForReply(page, `You answered: approve-${runId} resolved {"approved":true}`);
  await card.waitFor({ state: "detached" });
}

// A browser on a loaded 2-core machine: generous per-test deadlines.
describe("stock CopilotKit chat: useInterrupt on Threadline", { timeout: 90_000 }, () => {
  it("a run the chat started asks; approving it in the chat resumes the agent there", async () => {
    const page = await openChat("ck-own", { interrupt: "1", delayMs: "5" });
    await withScreenshotOnFailure(page, "copilotkit-interrupt-own", async () => {
      await send(page, "deploy it");
      await waitForReply(page, "You said: deploy it");
      const card = page.locator("[data-testid=chat-interrupt]");
      await card.waitFor();
      expect(await card.locator("[data-testid=chat-interrupt-message]").textContent()).toBe(
        "Shall I go on?",
      );
      const asked = (await tl.store.threads.head("ck-own"))!.interrupts[0]!;
      expect(await card.getAttribute("data-interrupt-id")).toBe(asked.id);

      await card.locator("[data-testid=chat-interrupt-approve]").click();
      await waitForReply(page, `You answered: ${asked.id} resolved {"approved":true}`);
      await card.waitFor({ state: "detached" });
      expect(await page.locator("[data-testid=chat-error]").count()).toBe(0);
    });
    expect((await tl.store.threads.head("ck-own"))!.interrupts).toEqual([]);
    const runs = await tl.store.runs.list("ck-own", { limit: 5 });
    expect(runs.map((r) => [r.status, r.input.resume?.[0]?.status])).toEqual([
      ["succeeded", "resolved"],
      ["succeeded", undefined],
    ]);
    await page.close();
  });

  it("a server-started run that asks while the chat is open: the wake shows the question", async () => {
    const page = await openChat("ck-live");
    await withScreenshotOnFailure(page, "copilotkit-interrupt-live", async () => {
      // The chat's run-activity socket is joined: a run it did not start wakes it.
      await sockets.get(page)!.waitForJoins(1);
      const { runId } = await tl.startRun({
        threadId: "ck-live",
        agentId: "demo",
        trigger: { kind: "api" },
        input: { forwardedProps: { demo: { delayMs: 0, interrupt: true } } },
      });
      const card = page.locator(
        `[data-testid=chat-interrupt][data-interrupt-id="approve-${runId}"]`,
      );
      await card.waitFor({ timeout: 20_000 });
      await card.locator("[data-testid=chat-interrupt-decline]").click();
      await waitForReply(page, `You answered: approve-${runId} resolved {"approved":false}`);
    });
    expect((await tl.store.threads.head("ck-live"))!.interrupts).toEqual([]);
    await page.close();
  });

  it("mode=threadline (a following ThreadlineAgent): a server run's question, answered in the chat", async () => {
    const page = await openChat("ck-follow", { mode: "threadline" });
    let asked = "";
    await withScreenshotOnFailure(page, "copilotkit-interrupt-threadline", async () => {
      await waitForFollow(page, "open");
      const { runId } = await tl.startRun({
        threadId: "ck-follow",
        agentId: "demo",
        input: { forwardedProps: { demo: { delayMs: 0, interrupt: true } } },
      });
      asked = runId;
      await approveInChat(page, runId);
    });
    expect((await tl.store.threads.head("ck-follow"))!.interrupts).toEqual([]);
    const [latest] = await tl.store.runs.list("ck-follow", { limit: 1 });
    // The reply reaches the page before the run's RUN_FINISHED is committed: wait for its end.
    const resumed = await endedRun(tl.store, "ck-follow", latest!.runId, 20_000);
    expect(resumed).toMatchObject({ trigger: { kind: "client" }, status: "succeeded" });
    expect(resumed!.runId).not.toBe(asked);
    expect(resumed!.input.resume).toEqual([
      { interruptId: `approve-${asked}`, status: "resolved", payload: { approved: true } },
    ]);
    await page.close();
  });

  it("mode=threadline: a question asked before the page opened is shown (compact snapshot) and answered", async () => {
    const { runId } = await tl.startRun({
      threadId: "ck-follow-before",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, interrupt: true } } },
    });
    await tl.coordinator.idle("ck-follow-before");
    expect((await tl.store.threads.head("ck-follow-before"))!.interrupts).toHaveLength(1);
    const page = await openChat("ck-follow-before", { mode: "threadline" });
    await withScreenshotOnFailure(page, "copilotkit-interrupt-threadline-before", async () => {
      await approveInChat(page, runId);
    });
    expect((await tl.store.threads.head("ck-follow-before"))!.interrupts).toEqual([]);
    await page.close();
  });

  it("cancelling in the chat resumes the agent with status cancelled", async () => {
    const { runId } = await tl.startRun({
      threadId: "ck-cancel",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, interrupt: true } } },
    });
    const page = await openChat("ck-cancel");
    await withScreenshotOnFailure(page, "copilotkit-interrupt-cancel", async () => {
      const card = page.locator(
        `[data-testid=chat-interrupt][data-interrupt-id="approve-${runId}"]`,
      );
      await card.waitFor({ timeout: 20_000 });
      await card.locator("[data-testid=chat-interrupt-cancel]").click();
      await waitForReply(page, `You answered: approve-${runId} cancelled`);
    });
    expect((await tl.store.threads.head("ck-cancel"))!.interrupts).toEqual([]);
    await page.close();
  });
});
