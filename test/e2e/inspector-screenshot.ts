/**
 * Makes `docs/inspector.png`, the README's picture of the inspector: a thread with a few runs of
 * every provenance. Run it by hand after changing the page: `npx tsx test/e2e/inspector-screenshot.ts`.
 */
import { mkdirSync } from "node:fs";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";
import { launchBrowser } from "../helpers/browser.js";
import { waitFor } from "../helpers/wait-for.js";

const tl = createThreadline({
  store: createMemoryStore(),
  agents: { demo: new DemoAgent() },
  schedules: [
    {
      id: "demo-heartbeat",
      agentId: "demo",
      threadId: "demo",
      everyMs: 30_000,
      startAt: new Date(Date.now() + 20_000).toISOString(),
    },
    { id: "daily-digest", agentId: "demo", threadId: "digest", cron: "0 9 * * 1-5" },
  ],
});
const server = await tl.listen({ port: 0 });
const fast = { demo: { delayMs: 15 } };
const say = (id: string, content: string) => ({
  messages: [{ id, role: "user" as const, content }],
  forwardedProps: fast,
});
const runs: Parameters<typeof tl.startRun>[0][] = [
  {
    threadId: "demo",
    agentId: "demo",
    trigger: { kind: "heartbeat", scheduleId: "demo-heartbeat" },
    input: { forwardedProps: fast },
  },
  {
    threadId: "demo",
    agentId: "demo",
    trigger: { kind: "client" },
    input: say("u1", "What changed overnight?"),
  },
  {
    threadId: "demo",
    agentId: "demo",
    trigger: { kind: "webhook", hookId: "github" },
    input: say("u2", "PR #42 was merged"),
  },
  {
    threadId: "demo",
    agentId: "demo",
    trigger: { kind: "heartbeat", scheduleId: "demo-heartbeat" },
    input: { forwardedProps: fast },
  },
  {
    threadId: "demo",
    agentId: "demo",
    trigger: { kind: "api" },
    input: say("u3", "Summarise the thread for me"),
  },
];
for (const run of runs) await tl.startRun({ ...run, multitask: "enqueue" });
await waitFor(
  async () => (await tl.store.threads.get("demo"))?.activeRunId === null,
  "the runs",
  10_000,
);
await tl.startRun({
  threadId: "digest",
  agentId: "demo",
  trigger: { kind: "schedule", scheduleId: "daily-digest" },
  input: { forwardedProps: fast },
});

const browser = await launchBrowser();
try {
  const page = await browser.newPage({
    viewport: { width: 1280, height: 760 },
    deviceScaleFactor: 1,
  });
  await page.goto(`${server.url}/#/t/demo`);
  await page
    .locator("[data-testid=run]")
    .nth(runs.length - 1)
    .waitFor();
  await page.locator("[data-testid=thread-item][data-thread-id=digest]").waitFor();
  await page.locator("[data-testid=follow-status][data-state=live]").waitFor();
  mkdirSync("docs", { recursive: true });
  await page.screenshot({ path: "docs/inspector.png" });
  process.stdout.write("wrote docs/inspector.png\n");
} finally {
  await browser.close();
  await tl.close({ graceMs: 0 });
}
