import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { ScheduleInput } from "../../src/core/scheduler/index.js";
import { demoHeartbeat } from "../../src/demo/demo-heartbeat.js";
import { axeViolations } from "../helpers/axe.js";
import { assistantSaid, inspectorHarness, until } from "./inspector-harness.js";

/** A real heartbeat on the `demo` thread, fast enough to watch a few runs arrive. */
const HEARTBEAT: ScheduleInput = {
  ...demoHeartbeat({ threadId: "demo", everyMs: 1_000 }),
  input: { forwardedProps: { demo: { delayMs: 20 } } },
};

const { startServer: start, withPage } = inspectorHarness();
const startServer = (opts: { port?: number; token?: string; heartbeat?: boolean } = {}) =>
  start({
    ...(opts.port ? { port: opts.port } : {}),
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.heartbeat ? { schedules: [HEARTBEAT] } : {}),
  });

interface RunRow {
  id: string;
  status: string;
  trigger: string;
}

const runRows = (page: Page): Promise<RunRow[]> =>
  page.$$eval("[data-testid=run]", (els) =>
    els.map((e) => {
      const d = (e as HTMLElement).dataset;
      return { id: d.runId ?? "", status: d.status ?? "", trigger: d.trigger ?? "" };
    }),
  );

/** A succeeded run with this trigger whose id is not in `known`. */
const newRun = (page: Page, trigger: string, known: string[], what: string) =>
  until(
    page,
    what,
    ([kind, seen]) =>
      [...document.querySelectorAll<HTMLElement>("[data-testid=run]")].some(
        (r) =>
          r.dataset.trigger === kind &&
          r.dataset.status === "succeeded" &&
          !seen.includes(r.dataset.runId ?? ""),
      ),
    [trigger, known] as const,
  );

const turns = async (page: Page): Promise<number> =>
  (
    JSON.parse((await page.locator("[data-testid=state]").textContent()) ?? "{}") as {
      turns?: number;
    }
  ).turns ?? 0;

const status = (page: Page, state: string) =>
  page.locator(`[data-testid=follow-status][data-state=${state}]`).waitFor({ timeout: 10_000 });

describe("inspector page", () => {
  it("shows heartbeat runs arrive live, streams a reply, and catches up after a restart", async () => {
    let server = await startServer({ heartbeat: true });
    await withPage("live", async (page) => {
      await page.goto(server.url);
      await page.locator("[data-testid=thread-item][data-thread-id=demo]").click();
      await status(page, "live");

      // A heartbeat run that starts after the page opened shows up with its badge.
      await newRun(
        page,
        "heartbeat",
        (await runRows(page)).map((r) => r.id),
        "a live heartbeat run",
      );
      const badge = page.locator(
        "[data-testid=run][data-trigger=heartbeat] [data-testid=run-trigger]",
      );
      expect(await badge.first().textContent()).toBe("heartbeat");
      await page
        .locator("[data-testid=message][data-role=assistant] .content", {
          hasText: /^Tick \d+: the thread is alive\.$/,
        })
        .first()
        .waitFor();

      // Send a message: the reply streams in word by word (markup in it stays text).
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { seen: string[] }).seen = seen;
        const root = document.querySelector("[data-testid=conversation]")!;
        new MutationObserver(() => {
          for (const el of root.querySelectorAll("[data-role=assistant] .content")) {
            const text = el.textContent ?? "";
            if (text.startsWith("You") && !seen.includes(text)) seen.push(text);
          }
        }).observe(root, { subtree: true, childList: true, characterData: true });
      });
      const turnsBefore = await turns(page);
      const prompt = `<b>hello</b> ${Array.from({ length: 16 }, (_, i) => `word${i}`).join(" ")}`;
      await page.locator("[data-testid=composer-input]").fill(prompt);
      await page.locator("[data-testid=composer-send]").click();
      const reply = `You said: ${prompt}`;
      await assistantSaid(page, reply);
      const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
      const partial = seen.filter((t) => t !== reply && reply.startsWith(t));
      expect(partial.length).toBeGreaterThanOrEqual(2);
      const user = page.locator("[data-testid=message][data-role=user] .content", {
        hasText: "word15",
      });
      expect(await user.textContent()).toBe(prompt);
      expect(await page.locator("[data-testid=conversation] b").count()).toBe(0);
      await newRun(page, "client", [], "the message's run (a person typed it)");
      // The state panel follows the agent's state (`turns` counts the runs answered).
      await until(
        page,
        "the state to count this turn",
        (min) => {
          const text = document.querySelector("[data-testid=state]")?.textContent ?? "{}";
          return ((JSON.parse(text) as { turns?: number }).turns ?? 0) > min;
        },
        turnsBefore,
      );
      const lastSeq = await page
        .locator("[data-testid=event][data-kind=event]")
        .last()
        .getAttribute("data-seq");
      expect(Number(lastSeq)).toBeGreaterThan(10);

      // Restart the server on the same file and port: the page shows it, then catches up.
      const before = (await runRows(page)).map((r) => r.id);
      await server.close();
      await status(page, "reconnecting");
      server = await startServer({ heartbeat: true, port: server.port });
      await server.tl.startRun({
        threadId: "demo",
        agentId: "demo",
        multitask: "enqueue",
        input: {
          messages: [{ id: "after-restart", role: "user", content: "back again" }],
          forwardedProps: { demo: { delayMs: 0 } },
        },
      });
      await status(page, "live");
      await assistantSaid(page, "You said: back again");
      await newRun(page, "heartbeat", before, "a heartbeat run after the restart");
      expect(await page.locator("[data-testid=thread-error]").isHidden()).toBe(true);
    });
  });

  it("asks for the token, rejects a wrong one, keeps the right one for the session", async () => {
    const server = await startServer({ token: "s3cret" });
    await server.tl.startRun({
      threadId: "private",
      agentId: "demo",
      input: {
        messages: [{ id: "p1", role: "user", content: "secret plans" }],
        forwardedProps: { demo: { delayMs: 0 } },
      },
    });
    await withPage("token", async (page) => {
      await page.goto(`${server.url}/#/t/private`);
      const dialog = page.locator("[data-testid=token-prompt]");
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain("requires a bearer token");
      // The dialog is named by its heading and passes axe like the rest of the page.
      expect(await page.getByRole("dialog", { name: "Token required" }).count()).toBe(1);
      expect(await axeViolations(page)).toEqual([]);

      await page.locator("[data-testid=token-input]").fill("wrong");
      await page.locator("[data-testid=token-submit]").click();
      await page.locator("[data-testid=token-error]", { hasText: "Token not accepted" }).waitFor();
      expect(await page.locator("[data-testid=token-error]").textContent()).toContain("not valid");

      await page.locator("[data-testid=token-input]").fill("s3cret");
      await page.locator("[data-testid=token-submit]").click();
      await dialog.waitFor({ state: "detached" });
      await page.locator("[data-testid=thread-item][data-thread-id=private]").waitFor();
      await assistantSaid(page, "You said: secret plans");

      // Kept for the session: a reload goes straight to the data.
      await page.reload();
      await assistantSaid(page, "You said: secret plans");
      expect(await dialog.count()).toBe(0);
    });
  });

  it("names an unknown thread, manages schedules, cancels a run", async () => {
    const server = await startServer();
    await withPage("schedules", async (page) => {
      await page.goto(`${server.url}/#/t/nope`);
      await page
        .locator("[data-testid=thread-error]", { hasText: "Unknown thread 'nope'" })
        .waitFor();
      await status(page, "error");
      // Its first message creates it, and the page follows it from there.
      await page.locator("[data-testid=composer-input]").fill("first words");
      await page.locator("[data-testid=composer-input]").press("Enter");
      await assistantSaid(page, "You said: first words");
      expect(await page.locator("[data-testid=thread-error]").isHidden()).toBe(true);

      // Create: a bad cron is explained, a good one is listed.
      await page.locator("summary", { hasText: "New schedule" }).click();
      const form = page.locator("[data-testid=schedule-form]");
      await form.locator("input[name=id]").fill("nightly");
      await form.locator("select[name=kind]").selectOption("cron");
      await form.locator("input[name=timing]").fill("not a cron");
      await form.locator("button[type=submit]").click();
      await page
        .locator("[data-testid=schedule-error]", { hasText: "invalid cron expression" })
        .waitFor();
      await form.locator("input[name=timing]").fill("0 3 * * *");
      await form.locator("input[name=threadId]").fill("nightly-thread");
      await form.locator("button[type=submit]").click();
      const row = page.locator("[data-testid=schedule][data-schedule-id=nightly]");
      await row.waitFor();
      expect(await row.textContent()).toContain("cron 0 3 * * *");
      expect(await row.locator(".badge").textContent()).toBe("schedule");

      // Pause, resume, delete (two clicks).
      await row.locator("[data-testid=schedule-toggle]").click();
      await page
        .locator("[data-testid=schedule][data-schedule-id=nightly][data-paused=true]")
        .waitFor();
      expect(await server.tl.scheduler.get("nightly")).toMatchObject({ paused: true });
      await row.locator("[data-testid=schedule-toggle]").click();
      await page
        .locator("[data-testid=schedule][data-schedule-id=nightly][data-paused=false]")
        .waitFor();
      await row.locator("[data-testid=schedule-delete]").click();
      await row.locator("[data-testid=schedule-delete]", { hasText: "Confirm" }).click();
      await row.waitFor({ state: "detached" });
      expect(await server.tl.scheduler.list()).toEqual([]);

      // Cancel: a long reply on a new thread, stopped from the page.
      await server.tl.startRun({
        threadId: "long",
        agentId: "demo",
        input: { forwardedProps: { demo: { tokens: 500, delayMs: 20 } } },
      });
      await page.goto(`${server.url}/#/t/long`);
      await page.locator("[data-testid=run][data-status=running]").waitFor();
      await page.locator("[data-testid=cancel-run]:not([disabled])").click();
      await page.locator("[data-testid=run][data-status=cancelled]").waitFor({ timeout: 10_000 });
      expect(await page.locator("[data-testid=message][data-streaming=true]").count()).toBe(0);
    });
  });
});
