import { describe, expect, it } from "vitest";
import { DemoAgent } from "../src/demo/demo-agent.js";
import { createMemoryStore } from "../src/stores/memory/index.js";
import { createThreadline } from "../src/threadline.js";
import { launchBrowser } from "./helpers/browser.js";

describe("browser", () => {
  it("Debian's Chromium reaches a Threadline server on loopback", async () => {
    const tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    const server = await tl.listen({ port: 0 });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/healthz`);
      expect(await page.textContent("body")).toContain('"ok":true');
    } finally {
      await browser.close();
      await server.close();
      await tl.close({ graceMs: 0 });
    }
  });
});
