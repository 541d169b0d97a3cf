import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import type { ScheduleInput } from "../../src/core/scheduler/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { launchBrowser, withScreenshotOnFailure } from "../helpers/browser.js";

export interface Server {
  tl: Threadline;
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface InspectorHarness {
  /** Threadline over loopback HTTP on an SQLite file in the test's temp dir (closed after it). */
  startServer(opts?: {
    port?: number;
    token?: string;
    schedules?: ScheduleInput[];
  }): Promise<Server>;
  /** A fresh browser context (its own sessionStorage) with a screenshot if `fn` fails. */
  withPage(
    name: string,
    fn: (page: Page) => Promise<void>,
    context?: BrowserContextOptions,
  ): Promise<void>;
}

/**
 * The inspector's browser tests' set-up: one Chromium per file, a temp dir and servers per
 * test. Registers its hooks in the calling file.
 */
export function inspectorHarness(): InspectorHarness {
  let browser: Browser;
  let dir: string;
  const servers = new Set<Server>();

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tl-inspector-"));
  });
  afterEach(async () => {
    for (const s of servers) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  return {
    async startServer(opts = {}) {
      const tl = createThreadline({
        store: createSqliteStore({ path: join(dir, "threadline.db") }),
        agents: { demo: new DemoAgent() },
        ...(opts.token ? { token: opts.token } : {}),
        ...(opts.schedules ? { schedules: opts.schedules } : {}),
      });
      const listening = await tl.listen({ port: opts.port ?? 0 });
      const server: Server = {
        tl,
        url: listening.url,
        port: Number(new URL(listening.url).port),
        close: async () => {
          if (!servers.delete(server)) return;
          await tl.close({ graceMs: 0 });
        },
      };
      servers.add(server);
      return server;
    },

    async withPage(name, fn, context = {}) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...context });
      const page = await ctx.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      try {
        await withScreenshotOnFailure(page, `inspector-${name}`, () => fn(page));
        expect(pageErrors).toEqual([]);
      } finally {
        await ctx.close();
      }
    },
  };
}

/** Polls the page (every 50 ms, up to `timeout`) until `fn(arg)` is truthy there. */
export async function until<A>(
  page: Page,
  what: string,
  fn: (arg: A) => unknown,
  arg: A,
  timeout = 10_000,
): Promise<void> {
  try {
    // Playwright types `arg` through its serialisation (`Unboxed<A>`); plain data maps to itself.
    await page.waitForFunction(fn as (arg: unknown) => unknown, arg, { timeout, polling: 50 });
  } catch (error) {
    throw new Error(`timed out waiting for ${what}: ${(error as Error).message.split("\n")[0]}`);
  }
}

/** Waits until an assistant message of the conversation says exactly `text`, done streaming. */
export const assistantSaid = (page: Page, text: string) =>
  until(
    page,
    `the reply '${text}'`,
    (t) =>
      [...document.querySelectorAll("[data-testid=message][data-role=assistant]")].some(
        (m) =>
          m.querySelector(".content")?.textContent === t &&
          m.getAttribute("data-streaming") === "false",
      ),
    text,
  );
