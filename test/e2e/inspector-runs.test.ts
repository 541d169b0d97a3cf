import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { TERMINAL_RUN_STATUSES } from "../../src/core/types.js";
import { waitFor } from "../helpers/wait-for.js";
import { inspectorHarness, until } from "./inspector-harness.js";
import { seedInspector } from "./inspector-scenario.js";

const { startServer, withPage } = inspectorHarness();

const attr = (page: Page, selector: string, name: string) =>
  page.$$eval(selector, (els, n) => els.map((e) => e.getAttribute(n) ?? ""), name);

/** The conversation's items in order: `m:<message id>` or `mark:<status>:<run id>`. */
const conversationOrder = (page: Page) =>
  page.$$eval("[data-testid=conversation] > li", (els) =>
    els.map((e) => {
      const d = (e as HTMLElement).dataset;
      return d.testid === "run-mark" ? `mark:${d.status}:${d.runId}` : `m:${d.messageId}`;
    }),
  );

describe("inspector: runs in the conversation and their detail", () => {
  it("marks failed and cancelled runs where they ended, with their error, and times each message", async () => {
    const server = await startServer();
    const { support } = await seedInspector(server.tl, { busyRuns: 0 });
    const { failed, cancelled } = support;
    await withPage("marks", async (page) => {
      await page.goto(`${server.url}/#/t/support`);
      await page.locator("[data-testid=run-mark]").nth(1).waitFor();

      const failedMark = page.locator(`[data-testid=run-mark][data-run-id="${failed.runId}"]`);
      expect(await failedMark.getAttribute("data-status")).toBe("failed");
      expect(await failedMark.textContent()).toContain(
        "Run failedAGENT_ERROR: the ticket system timed out",
      );
      const cancelledMark = page.locator(
        `[data-testid=run-mark][data-run-id="${cancelled.runId}"]`,
      );
      expect(await cancelledMark.getAttribute("data-status")).toBe("cancelled");

      // Each marker sits right after its run's partial reply, before the next run's message.
      const order = await conversationOrder(page);
      expect(order.slice(order.indexOf(`mark:failed:${failed.runId}`) - 2).slice(0, 4)).toEqual([
        "m:u2",
        `m:msg-${failed.runId}`,
        `mark:failed:${failed.runId}`,
        "m:u3",
      ]);
      const afterCancel = order.indexOf(`mark:cancelled:${cancelled.runId}`);
      expect(order.slice(afterCancel - 2, afterCancel + 2)).toEqual([
        "m:u4",
        `m:msg-${cancelled.runId}`,
        `mark:cancelled:${cancelled.runId}`,
        "m:u5",
      ]);
      // Their partial replies are flagged; the others are not.
      expect(await attr(page, "[data-testid=message].incomplete", "data-message-id")).toEqual([
        `msg-${failed.runId}`,
        `msg-${cancelled.runId}`,
      ]);

      // Every message shows when its run started (the compact snapshot's messages included).
      const times = await attr(page, "[data-testid=message-time]", "datetime");
      expect(times.length).toBe(await page.locator("[data-testid=message]").count());
      expect(times.every(Boolean)).toBe(true);
      const u2 = page.locator(
        "[data-testid=message][data-message-id=u2] [data-testid=message-time]",
      );
      expect(await u2.getAttribute("datetime")).toBe(new Date(failed.startedAt!).toISOString());

      // A run that fails while the page is open is marked live.
      const { runId } = await server.tl.startRun({
        threadId: "support",
        agentId: "demo",
        multitask: "enqueue",
        input: {
          messages: [{ id: "live-1", role: "user", content: "one more try" }],
          forwardedProps: { demo: { delayMs: 5, fail: "still down" } },
        },
      });
      const live = page.locator(`[data-testid=run-mark][data-run-id="${runId}"]`);
      await live.waitFor();
      expect(await live.textContent()).toContain("AGENT_ERROR: still down");
      expect((await conversationOrder(page)).slice(-3)).toEqual([
        "m:live-1",
        `m:msg-${runId}`,
        `mark:failed:${runId}`,
      ]);
    });
  });

  it("opens a run's detail from a marker and from the runs list, and by its deep link", async () => {
    const server = await startServer();
    const { support } = await seedInspector(server.tl, { busyRuns: 0 });
    const { failed, cancelled } = support;
    const stored = await server.tl.store.threads.read("support", { after: failed.startSeq! - 1 });
    const failedEvents = stored.slice(0, stored.findIndex((r) => r.event.type === "RUN_ERROR") + 1);

    await withPage("detail", async (page) => {
      await page.goto(`${server.url}/#/t/support`);
      await page
        .locator(`[data-testid=run-mark][data-run-id="${failed.runId}"] a`, {
          hasText: "Run details",
        })
        .click();
      const detail = page.locator(`[data-testid=run-detail][data-run-id="${failed.runId}"]`);
      await detail.waitFor();
      expect(new URL(page.url()).hash).toBe(`#/t/support/r/${failed.runId}`);
      expect(await page.title()).toBe(`run ${failed.runId} · support · Threadline inspector`);
      expect(await detail.locator("[data-testid=run-detail-status]").textContent()).toBe("failed");
      expect(await detail.locator("[data-testid=run-detail-error]").textContent()).toBe(
        "AGENT_ERROR: the ticket system timed out",
      );
      const facts = await detail.locator("dl").allTextContents();
      expect(facts[0]).toContain("Kindwebhook");
      expect(facts[0]).toContain("Webhookzendesk");
      expect(facts[0]).toContain("Deliveryd-1042");
      expect(facts[1]).toMatch(/Started\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}/);
      expect(facts[1]).toContain(`First seq${failed.startSeq}`);
      expect(await detail.locator(".input-messages").textContent()).toContain(
        "Ticket #1042 was reopened by the customer",
      );
      // Its events, exactly: from its RUN_STARTED to its RUN_ERROR.
      const rows = detail.locator("[data-testid=run-events] [data-testid=event]");
      await until(
        page,
        "the run's events",
        (n) =>
          document.querySelectorAll("[data-testid=run-events] [data-testid=event]").length === n,
        failedEvents.length,
      );
      expect(
        (await attr(page, "[data-testid=run-events] [data-testid=event]", "data-seq")).map(Number),
      ).toEqual(failedEvents.map((r) => r.seq));
      expect(await rows.last().locator(".type").textContent()).toBe("RUN_ERROR");
      // The conversation panels are hidden meanwhile; the way back shows them again.
      expect(await page.locator("[data-testid=conversation]").isVisible()).toBe(false);
      await detail.locator("a", { hasText: "Conversation" }).click();
      await detail.waitFor({ state: "detached" });
      expect(await page.locator("[data-testid=conversation]").isVisible()).toBe(true);

      // From the runs list.
      await page.locator(`[data-testid=run][data-run-id="${cancelled.runId}"] a`).click();
      const other = page.locator(`[data-testid=run-detail][data-run-id="${cancelled.runId}"]`);
      await other.locator("[data-testid=run-detail-status]", { hasText: "cancelled" }).waitFor();
      expect(
        await page
          .locator(`[data-testid=run][data-run-id="${cancelled.runId}"] a`)
          .getAttribute("aria-current"),
      ).toBe("true");
      await until(
        page,
        "the cancelled run's RUN_FINISHED",
        () =>
          document.querySelector("[data-testid=run-events] [data-testid=event]:last-child .type")
            ?.textContent === "RUN_FINISHED",
        null,
      );
    });

    // A deep link opens it straight away, in a fresh page; an unknown run says so.
    await withPage("deep-link", async (page) => {
      await page.goto(`${server.url}/#/t/support/r/${encodeURIComponent(cancelled.runId)}`);
      await page
        .locator(
          `[data-testid=run-detail][data-run-id="${cancelled.runId}"] [data-testid=run-detail-status]`,
        )
        .waitFor();
      expect(
        await page.locator("#run-detail-title").evaluate((e) => e === document.activeElement),
      ).toBe(true);
      await page.goto(`${server.url}/#/t/support/r/no-such-run`);
      await page
        .locator("[data-testid=run-error]", {
          hasText: "Unknown run 'no-such-run' on thread 'support'",
        })
        .waitFor();
    });
  });

  it("follows a running run's detail live until it ends", async () => {
    const server = await startServer();
    await server.tl.store.threads.ensure("live");
    const { runId } = await server.tl.startRun({
      threadId: "live",
      agentId: "demo",
      input: { forwardedProps: { demo: { tokens: 60, delayMs: 15 } } },
    });
    await waitFor(
      async () => (await server.tl.store.runs.get("live", runId))?.startSeq,
      "the run to start",
    );
    await withPage("live-detail", async (page) => {
      await page.goto(`${server.url}/#/t/live/r/${runId}`);
      const status = page.locator("[data-testid=run-detail-status]");
      await status.waitFor();
      await page
        .locator("[data-testid=run-detail-status]", { hasText: "succeeded" })
        .waitFor({ timeout: 10_000 });
      const run = await server.tl.store.runs.get("live", runId);
      expect(TERMINAL_RUN_STATUSES.has(run!.status)).toBe(true);
      const stored = await server.tl.store.threads.read("live", { after: 0 });
      // Every event of the run, once, in order, whether read from the log or received live.
      await until(
        page,
        "all the run's events",
        (n) =>
          document.querySelectorAll("[data-testid=run-events] [data-testid=event]").length >= n,
        stored.length,
      );
      expect(
        (await attr(page, "[data-testid=run-events] [data-testid=event]", "data-seq")).map(Number),
      ).toEqual(stored.map((r) => r.seq));
    });
  });

  it("fills the hole when the page's follow starts after the run detail read the log", async () => {
    const server = await startServer();
    await server.tl.store.threads.ensure("late");
    const { runId } = await server.tl.startRun({
      threadId: "late",
      agentId: "demo",
      input: { forwardedProps: { demo: { tokens: 200, delayMs: 15 } } },
    });
    await waitFor(
      async () => (await server.tl.store.runs.get("late", runId))?.startSeq,
      "the run to start",
    );
    await withPage("late-follow", async (page) => {
      // Hold the thread's follow until the detail has read the log and the run has written more:
      // the follow's compact snapshot then covers events the detail never read.
      let readDone!: () => void;
      const detailRead = new Promise<void>((resolve) => {
        readDone = resolve;
      });
      page.on("requestfinished", (request) => {
        const url = new URL(request.url());
        if (url.pathname === "/threads/late/events" && url.searchParams.get("follow") === "false") {
          readDone();
        }
      });
      await page.route(
        (url) =>
          url.pathname === "/threads/late/events" && url.searchParams.get("replay") === "compact",
        async (route) => {
          await detailRead;
          const head = await server.tl.store.threads.head("late");
          const seen = head?.lastSeq ?? 0;
          await waitFor(
            async () => ((await server.tl.store.threads.head("late"))?.lastSeq ?? 0) >= seen + 3,
            "the run to write past the detail's read",
          );
          await route.continue();
        },
      );
      await page.goto(`${server.url}/#/t/late/r/${runId}`);
      await page
        .locator("[data-testid=run-detail-status]", { hasText: "succeeded" })
        .waitFor({ timeout: 15_000 });
      const stored = await server.tl.store.threads.read("late", { after: 0, limit: 10_000 });
      await until(
        page,
        "all the run's events",
        (n) =>
          document.querySelectorAll("[data-testid=run-events] [data-testid=event]").length >= n,
        stored.length,
      );
      expect(
        (await attr(page, "[data-testid=run-events] [data-testid=event]", "data-seq")).map(Number),
      ).toEqual(stored.map((r) => r.seq));
    });
  });
});

describe("inspector: paging, search and filters", () => {
  it("pages and searches the threads, pages and filters a thread's runs", async () => {
    const server = await startServer();
    const { busy } = await seedInspector(server.tl, { threads: 60 });
    const threadIds = (page: Page) => attr(page, "[data-testid=thread-item]", "data-thread-id");
    await withPage("paging", async (page) => {
      await page.goto(server.url);
      await page.locator("[data-testid=thread-item]").nth(49).waitFor();
      const all = (await server.tl.store.threads.list({ limit: 1000 })).map((t) => t.threadId);
      expect(all.length).toBe(62);
      expect(await threadIds(page)).toEqual(all.slice(0, 50));
      const pager = page.locator("[data-testid=threads-pager]");
      await pager.locator("button", { hasText: "Older" }).click();
      await until(
        page,
        "the second page",
        (first) =>
          document.querySelector("[data-testid=thread-item]")?.getAttribute("data-thread-id") ===
          first,
        all[50]!,
      );
      expect(await threadIds(page)).toEqual(all.slice(50));
      expect(await pager.locator("button", { hasText: "Older" }).isDisabled()).toBe(true);
      await pager.locator("button", { hasText: "Newer" }).click();
      await until(
        page,
        "the first page again",
        (first) =>
          document.querySelector("[data-testid=thread-item]")?.getAttribute("data-thread-id") ===
          first,
        all[0]!,
      );

      // Search by metadata (key=value) and by id.
      const search = page.locator("[data-testid=thread-search]");
      const results = async (q: string, expected: string[]) => {
        await search.fill(q);
        await until(
          page,
          `the threads matching '${q}'`,
          (ids) =>
            JSON.stringify(
              [...document.querySelectorAll("[data-testid=thread-item]")]
                .map((e) => e.getAttribute("data-thread-id"))
                .sort(),
            ) === JSON.stringify(ids),
          [...expected].sort(),
        );
      };
      await results(
        "team=beta",
        all.filter((id) => /^team-\d+$/.test(id) && Number(id.slice(5)) % 3 === 0),
      );
      await results("acme", ["support"]);
      await results("TEAM-01", [
        "team-010",
        "team-011",
        "team-012",
        "team-013",
        "team-014",
        "team-015",
        "team-016",
        "team-017",
        "team-018",
        "team-019",
      ]);
      await results("nothing-like-this", []);
      expect(await page.locator("[data-testid=threads-note]").textContent()).toBe(
        "No threads match “nothing-like-this”.",
      );

      // A thread with 60 runs: 50 a page, newest first.
      await page.goto(`${server.url}/#/t/busy`);
      const newest = [...busy.runs].reverse().map((r) => r.runId);
      const runIds = () => attr(page, "[data-testid=run]", "data-run-id");
      await page.locator("[data-testid=run]").nth(49).waitFor();
      expect(await runIds()).toEqual(newest.slice(0, 50));
      await page.locator("[data-testid=runs-pager] button", { hasText: "Older" }).click();
      await until(
        page,
        "the older runs",
        (first) =>
          document.querySelector("[data-testid=run]")?.getAttribute("data-run-id") === first,
        newest[50]!,
      );
      expect(await runIds()).toEqual(newest.slice(50));

      // Filters start over at the first page.
      const expectRuns = async (what: string, ids: string[]) =>
        until(
          page,
          what,
          (want) =>
            JSON.stringify(
              [...document.querySelectorAll("[data-testid=run]")].map((e) =>
                e.getAttribute("data-run-id"),
              ),
            ) === JSON.stringify(want),
          ids,
        );
      await page.locator("[data-testid=run-filter-status]").selectOption("failed");
      const failed = [...busy.runs].reverse().filter((r) => r.status === "failed");
      expect(failed.length).toBe(9);
      await expectRuns(
        "the failed runs",
        failed.map((r) => r.runId),
      );
      await page.locator("[data-testid=run-filter-trigger]").selectOption("heartbeat");
      await expectRuns(
        "the failed heartbeat runs",
        failed.filter((r) => r.trigger.kind === "heartbeat").map((r) => r.runId),
      );
      await page.locator("[data-testid=run-filter-status]").selectOption("");
      await expectRuns(
        "the heartbeat runs",
        [...busy.runs]
          .reverse()
          .filter((r) => r.trigger.kind === "heartbeat")
          .map((r) => r.runId),
      );
    });
  });
});
