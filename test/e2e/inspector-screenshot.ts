/**
 * Makes `docs/inspector.png`, the README's picture of the inspector: a support thread with runs
 * of several provenances, one failed and one cancelled. Run it by hand after changing the page:
 * `npx tsx test/e2e/inspector-screenshot.ts`.
 */
import { mkdirSync } from "node:fs";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline } from "../../src/threadline.js";
import { launchBrowser } from "../helpers/browser.js";
import { seedInspector } from "./inspector-scenario.js";

const tl = createThreadline({
  store: createMemoryStore(),
  agents: { demo: new DemoAgent() },
  schedules: [
    {
      id: "support-heartbeat",
      agentId: "demo",
      threadId: "support",
      everyMs: 300_000,
      startAt: new Date(Date.now() + 120_000).toISOString(),
    },
    { id: "daily-digest", agentId: "demo", threadId: "digest", cron: "0 9 * * 1-5" },
  ],
});
const server = await tl.listen({ port: 0 });
await seedInspector(tl, { threads: 4, busyRuns: 8 });

const browser = await launchBrowser();
try {
  const page = await browser.newPage({
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
  });
  await page.goto(`${server.url}/#/t/support`);
  await page.locator("[data-testid=run-mark]").nth(1).waitFor();
  await page.locator("[data-testid=schedule][data-schedule-id=daily-digest]").waitFor();
  await page.locator("[data-testid=follow-status][data-state=live]").waitFor();
  // Show the failed run's marker in the middle of the conversation.
  await page
    .locator("[data-testid=run-mark][data-status=failed]")
    .evaluate((el) => el.scrollIntoView({ block: "center" }));
  mkdirSync("docs", { recursive: true });
  await page.screenshot({ path: "docs/inspector.png" });
  process.stdout.write("wrote docs/inspector.png\n");
} finally {
  await browser.close();
  await tl.close({ graceMs: 0 });
}
