import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeViolations } from "../helpers/axe.js";
import { inspectorHarness, until } from "./inspector-harness.js";
import { seedInspector } from "./inspector-scenario.js";

const { startServer, withPage } = inspectorHarness();

/** How much of `selector` is visible: in the viewport and not clipped by a scrolling parent. */
const visibleRatio = (page: Page, selector: string) =>
  page.locator(selector).evaluate(
    (el) =>
      new Promise<number>((resolve) => {
        const io = new IntersectionObserver(([entry]) => {
          io.disconnect();
          resolve(entry?.intersectionRatio ?? 0);
        });
        io.observe(el);
      }),
  );

describe("inspector accessibility", () => {
  it("has no axe violations and fits the window on every view, light and dark, wide and narrow", async () => {
    const server = await startServer();
    const { support } = await seedInspector(server.tl, { threads: 5, busyRuns: 12 });
    const views = [
      ["home, schedule form open", "#/"],
      ["a thread with failed and cancelled runs", "#/t/support"],
      ["a run's detail", `#/t/support/r/${support.failed.runId}`],
    ] as const;
    const found: string[] = [];
    // Colours in both schemes; the narrow layout once (it is the same in both schemes).
    const runs = [
      { colorScheme: "light", viewport: { width: 1280, height: 900 } },
      { colorScheme: "dark", viewport: { width: 1280, height: 900 } },
      { colorScheme: "light", viewport: { width: 375, height: 740 } },
    ] as const;
    for (const { colorScheme, viewport } of runs) {
      await withPage(
        `axe-${colorScheme}-${viewport.width}`,
        async (page) => {
          for (const [name, hash] of views) {
            await page.goto(`${server.url}/${hash}`);
            await page.locator("[data-testid=server-status]", { hasText: "connected" }).waitFor();
            if (hash === "#/") {
              await page.locator("summary", { hasText: "New schedule" }).click();
              await page
                .locator("[data-testid=schedule-form] select[name=agentId] option")
                .first()
                .waitFor({ state: "attached" });
            } else if (hash.includes("/r/")) {
              await page.locator("[data-testid=run-events] [data-testid=event]").last().waitFor();
            } else {
              await page.locator("[data-testid=run-mark]").nth(1).waitFor();
              await page.locator("[data-testid=follow-status][data-state=live]").waitFor();
            }
            // Nothing wider than the window: no sideways scrolling, nothing cut off.
            const overflow = await page.evaluate(
              () => document.documentElement.scrollWidth - window.innerWidth,
            );
            if (overflow > 0) {
              found.push(`${colorScheme} ${viewport.width}px, ${name}: ${overflow}px too wide`);
            }
            for (const v of await axeViolations(page)) {
              found.push(
                `${colorScheme} ${viewport.width}px, ${name}: ${v.impact} ${v.id} (${v.help})\n    ${v.nodes.slice(0, 5).join("\n    ")}`,
              );
            }
          }
        },
        { colorScheme, viewport },
      );
    }
    expect(found, found.join("\n")).toEqual([]);
  }, 90_000);

  it("has one h1, and its scrolling panes are in the tab order and scroll by keyboard", async () => {
    const server = await startServer();
    await seedInspector(server.tl, { busyRuns: 0 });
    await withPage("keyboard", async (page) => {
      await page.goto(`${server.url}/#/t/support`);
      await page.locator("[data-testid=run-mark]").nth(1).waitFor();
      expect(await page.locator("h1").allTextContents()).toEqual(["Threadline inspector"]);

      // Tab from the heading above the conversation lands on the conversation itself.
      await page.locator("#conversation-heading").click();
      await page.keyboard.press("Tab");
      const conversation = page.locator("[data-testid=conversation]");
      expect(await conversation.evaluate((e) => e === document.activeElement)).toBe(true);
      const scroll = () => conversation.evaluate((e) => e.scrollTop);
      const max = await conversation.evaluate((e) => e.scrollHeight - e.clientHeight);
      expect(max).toBeGreaterThan(100);
      await until(
        page,
        "the conversation at its end",
        (m) => {
          const e = document.querySelector("[data-testid=conversation]")!;
          return Math.abs(e.scrollTop - m) < 2;
        },
        max,
      );
      await page.keyboard.press("Home");
      await until(
        page,
        "Home to scroll up",
        () => document.querySelector("[data-testid=conversation]")!.scrollTop === 0,
        null,
      );
      await page.keyboard.press("PageDown");
      await until(
        page,
        "PageDown to scroll down",
        () => document.querySelector("[data-testid=conversation]")!.scrollTop > 0,
        null,
      );
      expect(await scroll()).toBeGreaterThan(0);

      // The other panes are focusable and named too.
      for (const testid of ["runs", "events", "state"]) {
        const pane = page.locator(`[data-testid=${testid}]`);
        expect(await pane.getAttribute("tabindex"), testid).toBe("0");
        expect(await pane.getAttribute("aria-label"), testid).toBeTruthy();
      }
      const events = page.locator("[data-testid=events]");
      await events.focus();
      await page.keyboard.press("Home");
      await until(
        page,
        "the event log to scroll by keyboard",
        () => document.querySelector("[data-testid=events]")!.scrollTop === 0,
        null,
      );
      await page.keyboard.press("End");
      await until(
        page,
        "End to reach the log's end",
        () => {
          const e = document.querySelector("[data-testid=events]")!;
          return e.scrollTop > 0 && e.scrollHeight - e.scrollTop - e.clientHeight < 2;
        },
        null,
      );
    });
  });

  it("shows the whole schedule form and its errors at every width", async () => {
    const server = await startServer();
    // Enough threads that the form starts below the fold.
    await seedInspector(server.tl, { threads: 50, busyRuns: 0 });
    // A small phone, a one-column tablet, and a desktop where the form sits in the 300 px sidebar.
    for (const width of [320, 600, 1024]) {
      await withPage(
        `schedule-form-${width}`,
        async (page) => {
          await page.goto(server.url);
          await page.locator("[data-testid=thread-item]").nth(49).waitFor();
          await page.locator("summary", { hasText: "New schedule" }).click();
          const form = page.locator("[data-testid=schedule-form]");
          await form.locator("select[name=agentId] option").first().waitFor({ state: "attached" });

          // Nothing is cut off: every control and label lies inside the viewport and the form,
          // and no control's text overflows it.
          const clipped = await form.evaluate((f) => {
            const out: string[] = [];
            const box = f.getBoundingClientRect();
            if (f.scrollWidth > f.clientWidth + 1) out.push("the form scrolls sideways");
            for (const el of f.querySelectorAll<HTMLElement>(
              "input, select, button, label > span",
            )) {
              const r = el.getBoundingClientRect();
              const name = el.getAttribute("name") ?? el.textContent ?? el.tagName;
              if (r.width === 0) out.push(`${name} has no width`);
              if (r.left < box.left - 1 || r.right > box.right + 1)
                out.push(`${name} sticks out of the form`);
              if (r.left < 0 || r.right > window.innerWidth) out.push(`${name} is off screen`);
              if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== "SELECT")
                out.push(`${name} text overflows`);
            }
            return out;
          });
          expect(clipped, `at ${width}px`).toEqual([]);

          // A bad interval: the error shows in view, next to the field, which gets the focus.
          await form.locator("input[name=timing]").fill("soon");
          await form.locator("button[type=submit]").click();
          const error = page.locator("[data-testid=schedule-error]");
          await error.filter({ hasText: "number of seconds" }).waitFor();
          expect(await visibleRatio(page, "[data-testid=schedule-error]"), `at ${width}px`).toBe(1);
          expect(await page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe(
            "timing",
          );
          expect(await form.locator("input[name=timing]").getAttribute("aria-invalid")).toBe(
            "true",
          );

          // The server's own errors show there too; a good schedule clears it.
          await form.locator("select[name=kind]").selectOption("cron");
          await form.locator("input[name=timing]").fill("every full moon");
          await form.locator("button[type=submit]").click();
          await error.filter({ hasText: "invalid cron expression" }).waitFor();
          expect(await visibleRatio(page, "[data-testid=schedule-error]"), `at ${width}px`).toBe(1);
          await form.locator("input[name=id]").fill(`at-${width}`);
          await form.locator("input[name=timing]").fill("0 9 * * 1-5");
          await form.locator("button[type=submit]").click();
          await page.locator(`[data-testid=schedule][data-schedule-id=at-${width}]`).waitFor();
          expect(await error.textContent()).toBe("");
          expect(await form.locator("input[name=timing]").getAttribute("aria-invalid")).toBeNull();
        },
        { viewport: { width, height: 700 } },
      );
    }
  });
});
