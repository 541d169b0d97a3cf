import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/manual-clock.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { demoHeartbeat } from "../../src/demo/demo-heartbeat.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { launchBrowser, withScreenshotOnFailure } from "../helpers/browser.js";
import {
  messageTexts,
  send,
  sharedChatBuild,
  waitForFollow,
  waitForReply,
  waitForRunning,
} from "../helpers/chat-page.js";
import { serveStatic } from "../helpers/static-server.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * The CopilotKit chat example (`examples/copilotkit-chat`, built with Vite) in Debian's Chromium,
 * against an in-process Threadline whose demo heartbeat runs on a manual clock: each
 * `clock.advance(HEARTBEAT_MS)` fires one real scheduled tick, so "a scheduled run happens while
 * the page is idle" is deterministic. The `journey` page is one person's session carried through
 * the first, second and fourth test (thread `journey`); the others use pages of their own.
 */
const HEARTBEAT_MS = 60_000;
const TICK = "the thread is alive.";

let outDir: string;
let clock: ManualClock;
let tl: Threadline;
let api: { url: string; close(): Promise<void> };
let site: { url: string; close(): Promise<void> };
let browser: Browser;
let journey: Page;

beforeAll(async () => {
  outDir = await sharedChatBuild();
  // The page is served from another origin than the API: the server must allow it (see cors).
  site = await serveStatic(outDir);
  clock = new ManualClock();
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { demo: new DemoAgent() },
    cors: [site.url],
    clock,
    schedules: [
      { ...demoHeartbeat({ threadId: "journey", everyMs: HEARTBEAT_MS }), id: "journey-heartbeat" },
    ],
  });
  await tl.ready;
  api = await tl.listen({ port: 0 });
  browser = await launchBrowser();
  journey = await openPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await api?.close();
  await tl?.close({ graceMs: 50 });
});

/** Uncaught errors of every page: a test fails on any (after its own assertions). */
const pageErrors: string[] = [];
async function openPage(): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  return page;
}
afterEach(() => {
  const errors = pageErrors.splice(0);
  expect(errors).toEqual([]);
});

const pageUrl = (query: Record<string, string>) =>
  `${site.url}/?${new URLSearchParams({ server: api.url, mode: "threadline", ...query })}`;

const tickCount = async (page: Page) =>
  (await messageTexts(page)).filter((t) => t.includes(TICK)).length;

describe("CopilotKit chat example in Chromium", () => {
  it("an idle page shows the replies of scheduled runs without any user action", async () => {
    await withScreenshotOnFailure(journey, "idle-page-scheduled-runs", async () => {
      await journey.goto(pageUrl({ thread: "journey" }));
      await waitForFollow(journey, "open");
      await waitForRunning(journey, false);
      expect(await messageTexts(journey)).toEqual([]);

      await clock.advance(HEARTBEAT_MS);
      await waitForReply(journey, `Tick 1: ${TICK}`);
      expect(await journey.textContent('[data-testid="last-trigger"]')).toBe("heartbeat");
      await waitForRunning(journey, false);

      await clock.advance(HEARTBEAT_MS);
      await waitForReply(journey, `Tick 2: ${TICK}`);
      expect(await tickCount(journey)).toBe(2);
    });
  });

  it("the person chats on the same page and the follow keeps going", async () => {
    await withScreenshotOnFailure(journey, "chat-while-following", async () => {
      await waitForRunning(journey, false);
      await send(journey, "hello threadline");
      await waitForReply(journey, "You said: hello threadline");
      expect(await messageTexts(journey, "user")).toEqual(["hello threadline"]);
      await waitForRunning(journey, false);

      // Still following: the next scheduled run shows up after the person's turn.
      await clock.advance(HEARTBEAT_MS);
      await waitForReply(journey, TICK, 3);
      const texts = await messageTexts(journey);
      expect(texts.map((t) => (t.includes(TICK) ? "tick" : t))).toEqual([
        "tick",
        "tick",
        "You said: hello threadline",
        "tick",
      ]);
      // Each message once: no run was applied twice.
      expect(new Set(texts).size).toBe(texts.length);
    });
  });

  it("stop cancels a long streaming reply, and the page keeps following", async () => {
    const page = await openPage();
    await withScreenshotOnFailure(page, "stop-long-run", async () => {
      await page.goto(pageUrl({ thread: "long", tokens: "400", delayMs: "25" }));
      await waitForFollow(page, "open");
      await send(page, "write a long answer");
      // The reply streams word by word...
      await waitForReply(page, "w3");
      await waitForRunning(page, true);
      // ...until the person presses stop (the send button turns into a stop button).
      await page.click('[data-testid="copilot-send-button"]');
      await waitForRunning(page, false);
      const [run] = await tl.store.runs.list("long");
      await waitFor(
        async () => (await tl.store.runs.get("long", run!.runId))?.status === "cancelled",
        "the run to be cancelled",
      );
      const [reply] = await messageTexts(page);
      expect(reply).toMatch(/^w1w2w3/);
      expect(reply).not.toContain("w400");

      // A run started by the server afterwards still arrives.
      await tl.startRun({
        threadId: "long",
        agentId: "demo",
        trigger: { kind: "schedule", scheduleId: "after-stop" },
        input: { forwardedProps: { demo: { tokens: ["after ", "the ", "stop"], delayMs: 1 } } },
      });
      await waitForReply(page, "after the stop");
    });
    await page.close();
  });

  it("after a reload the history is back and following resumes", async () => {
    await withScreenshotOnFailure(journey, "reload-resumes", async () => {
      await journey.reload();
      await waitForFollow(journey, "open");
      await waitForReply(journey, TICK, 3);
      expect(await messageTexts(journey, "user")).toEqual(["hello threadline"]);
      expect((await messageTexts(journey)).length).toBe(4);

      await clock.advance(HEARTBEAT_MS);
      await waitForReply(journey, TICK, 4);
      expect((await messageTexts(journey)).length).toBe(5);
    });
  });

  it("a stock CopilotKit client on the root runtimeUrl (no wake) connects and chats without hanging", async () => {
    await tl.startRun({
      threadId: "stock",
      agentId: "demo",
      input: {
        messages: [{ id: "before", role: "user", content: "from before" }],
        forwardedProps: { demo: { delayMs: 1 } },
      },
    });
    await tl.coordinator.idle("stock");
    const page = await openPage();
    await withScreenshotOnFailure(page, "stock-client", async () => {
      await page.goto(pageUrl({ thread: "stock", mode: "stock", runtime: api.url }));
      // The connect replays the history and ends: the chat is idle, not stuck "running".
      await waitForReply(page, "You said: from before");
      await waitForRunning(page, false);
      await send(page, "stock hello");
      await waitForReply(page, "You said: stock hello");
      await waitForRunning(page, false);
      expect(await messageTexts(page, "user")).toEqual(["from before", "stock hello"]);
    });
    await page.close();
  });
});

describe("a stock CopilotKit chat against a server with every documented option set", () => {
  it("connects, chats, stops and reloads, and is never stuck running", async () => {
    const token = "every-option-token";
    const full = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      token,
      cors: [site.url],
      allowedHosts: ["threadline.test"],
      keepaliveMs: 1_000,
      followerWriteTimeoutMs: 5_000,
      maxBodyBytes: 512 * 1024,
      inspector: true,
      leaseMs: 2_000,
      instanceId: "every-option",
      clock,
      schedules: [
        { ...demoHeartbeat({ threadId: "options", everyMs: HEARTBEAT_MS }), id: "options-beat" },
      ],
      hooks: [{ id: "options-hook", secret: "s3cret", agentId: "demo", thread: "options" }],
      copilotkit: { secret: "every-option-copilotkit-secret-0123456789" },
      scheduler: { syncMs: 1_000, misfireGraceMs: 1_000 },
    });
    await full.ready;
    const server = await full.listen({ port: 0 });
    const page = await openPage();
    try {
      await withScreenshotOnFailure(page, "every-option", async () => {
        const url = `${site.url}/?${new URLSearchParams({
          server: server.url,
          runtime: server.url,
          mode: "stock",
          thread: "options",
          token,
          tokens: "400",
          delayMs: "25",
        })}`;
        await page.goto(url);
        await waitForRunning(page, false);
        await send(page, "options hello");
        await waitForReply(page, "w3");
        await waitForRunning(page, true);
        // Stop (the send button is the stop button while running): the chat is idle again.
        await page.click('[data-testid="copilot-send-button"]');
        await waitForRunning(page, false);
        const [run] = await full.store.runs.list("options");
        await waitFor(
          async () => (await full.store.runs.get("options", run!.runId))?.status === "cancelled",
          "the run to be cancelled",
        );
        await page.reload();
        await waitForReply(page, "w3");
        await waitForRunning(page, false);
        expect(await messageTexts(page, "user")).toEqual(["options hello"]);
      });
    } finally {
      await page.close();
      await server.close();
      await full.close({ graceMs: 50 });
    }
  });
});
