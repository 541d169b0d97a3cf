import { AbstractAgent } from "@ag-ui/client";
import { type BaseEvent, EventType, type Interrupt, type RunAgentInput } from "@ag-ui/core";
import type { Page } from "playwright-core";
import { Observable } from "rxjs";
import { describe, expect, it } from "vitest";
import type { Threadline } from "../../src/threadline.js";
import { axeViolations } from "../helpers/axe.js";
import { waitFor } from "../helpers/wait-for.js";
import { assistantSaid, inspectorHarness } from "./inspector-harness.js";

/**
 * Pending interrupts in the inspector (PROTOCOL.md §3.1), in Chromium: the thread list's badge,
 * the question with its expiry and schema, the answer form built from `responseSchema`, the
 * server's refusal shown on the form, and the resume run streaming in once it is answered.
 */
const { startServer, withPage } = inspectorHarness();

const EXPIRES = "2999-01-01T00:00:00.000Z";
const SCHEMA = {
  type: "object",
  properties: {
    approved: { type: "boolean", title: "Approve the email" },
    // The form knows nothing of `not`: only the server's check (Ajv) refuses "no".
    note: { type: "string", not: { const: "no" }, description: "a word for the customer" },
    copies: { type: "integer", minimum: 1 },
    channel: { enum: ["email", "sms"] },
  },
  required: ["approved", "note", "channel"],
};

/** A run of the demo agent that ends asking `interrupt` (the demo's scripted interrupt). */
async function interrupting(tl: Threadline, threadId: string, interrupt: object) {
  const { runId } = await tl.startRun({
    threadId,
    agentId: "demo",
    input: {
      messages: [{ id: `${threadId}-m1`, role: "user", content: "send the report" }],
      forwardedProps: { demo: { delayMs: 0, interrupt } },
    },
  });
  await waitFor(
    async () => (await tl.store.threads.head(threadId))?.interrupts.length,
    `the interrupt of ${runId}`,
    10_000,
  );
  return runId;
}

/** An agent that only asks: its run ends at once with `interrupts`. */
class AskingAgent extends AbstractAgent {
  constructor(private readonly interrupts: Interrupt[]) {
    super();
  }
  override run(input: RunAgentInput): Observable<BaseEvent> {
    return new Observable<BaseEvent>((sub) => {
      const ids = { threadId: input.threadId, runId: input.runId };
      sub.next({ type: EventType.RUN_STARTED, ...ids } as BaseEvent);
      sub.next({
        type: EventType.RUN_FINISHED,
        ...ids,
        outcome: { type: "interrupt", interrupts: this.interrupts },
      } as BaseEvent);
      sub.complete();
    });
  }
}

const card = (page: Page, id: string) =>
  page.locator(`[data-testid=interrupt][data-interrupt-id="${id}"]`);

// A browser on a loaded 2-core machine: generous per-test deadlines (the waits inside have their own).
describe("inspector: pending interrupts", { timeout: 90_000 }, () => {
  it("shows the question, refuses what the server refuses, and resolves it", async () => {
    const server = await startServer();
    const runId = await interrupting(server.tl, "approvals", {
      id: "send-email",
      reason: "confirmation",
      message: "Send the weekly report to ACME?",
      responseSchema: SCHEMA,
      expiresAt: EXPIRES,
    });
    await withPage("interrupts", async (page) => {
      await page.goto(server.url);
      const badge = page.locator(
        "[data-testid=thread-item][data-thread-id=approvals] [data-testid=interrupt-badge]",
      );
      expect(await badge.textContent()).toBe("1 waiting");
      expect(await badge.getAttribute("title")).toContain("confirmation");
      await page.locator("[data-testid=thread-item][data-thread-id=approvals]").click();

      const question = card(page, "send-email");
      await question.waitFor();
      expect(await question.locator("[data-testid=interrupt-reason]").textContent()).toBe(
        "confirmation",
      );
      expect(await question.locator("[data-testid=interrupt-message]").textContent()).toBe(
        "Send the weekly report to ACME?",
      );
      expect(
        await question.locator("[data-testid=interrupt-expiry] time").getAttribute("datetime"),
      ).toBe(EXPIRES);
      expect(
        JSON.parse((await question.locator("[data-testid=interrupt-schema]").textContent()) ?? ""),
      ).toEqual(SCHEMA);
      // One control per property, each labelled, of the property's kind.
      const fields = await question
        .locator("[data-testid=interrupt-field]")
        .evaluateAll((els) =>
          els.map((e) => [
            e.getAttribute("data-field"),
            e.tagName === "SELECT" ? "select" : (e as HTMLInputElement).type,
            document.querySelector(`label[for="${e.id}"]`)?.textContent ?? "",
          ]),
        );
      expect(fields).toEqual([
        ["approved", "checkbox", "Approve the email *"],
        ["note", "text", "note *"],
        ["copies", "number", "copies"],
        ["channel", "select", "channel *"],
      ]);
      expect(await axeViolations(page)).toEqual([]);

      // The browser's own checks stop an answer without the required note.
      await question.locator("[data-testid=interrupt-resolve]").click();
      expect(
        await question
          .locator("[data-field=note]")
          .evaluate((e) => (e as HTMLInputElement).validity.valueMissing),
      ).toBe(true);

      // The server's schema check refuses "no"; its errors are shown on the form.
      await question.locator("[data-field=approved]").check();
      await question.locator("[data-field=note]").fill("no");
      await question.locator("[data-field=copies]").fill("2");
      await question.locator("[data-field=channel]").selectOption({ label: "email" });
      await question.locator("[data-testid=interrupt-resolve]").click();
      const error = question.locator("[data-testid=interrupt-error]");
      await error.locator("text=VALIDATION_FAILED").waitFor();
      expect(await error.textContent()).toContain("/note");
      expect((await server.tl.store.threads.head("approvals"))?.interrupts).toHaveLength(1);

      // Answered: the resume run streams in, the question and the badge go.
      await question.locator("[data-field=note]").fill("thanks");
      await question.locator("[data-testid=interrupt-resolve]").click();
      await assistantSaid(
        page,
        'You answered: send-email resolved {"approved":true,"note":"thanks","copies":2,"channel":"email"}',
      );
      await page.locator("[data-testid=interrupts]").waitFor({ state: "hidden" });
      await badge.waitFor({ state: "detached", timeout: 10_000 });
      const runs = (await server.tl.store.runs.list("approvals", { limit: 5 })).map((r) => ({
        trigger: r.trigger,
        resume: r.input.resume,
      }));
      expect(runs[0]).toEqual({
        trigger: { kind: "client", source: "interrupt" },
        resume: [
          {
            interruptId: "send-email",
            status: "resolved",
            payload: { approved: true, note: "thanks", copies: 2, channel: "email" },
          },
        ],
      });
      expect(runs).toHaveLength(2);
      expect(runId).toBeTruthy();
    });
  });

  it("cancels; answers several questions in one resume run, JSON where no form fits", async () => {
    const server = await startServer();
    // A JSON-only schema (an array) and a second question raised together.
    const { runId } = await server.tl.startRun({
      threadId: "pair",
      agentId: "demo",
      input: { forwardedProps: { demo: { delayMs: 0, interrupt: true } } },
    });
    await waitFor(
      async () => (await server.tl.store.threads.head("pair"))?.interrupts.length,
      "the demo interrupt",
      10_000,
    );
    await withPage("interrupts-cancel", async (page) => {
      await page.goto(`${server.url}/#/t/pair`);
      const approve = card(page, `approve-${runId}`);
      await approve.waitFor();
      expect(await approve.locator("[data-testid=interrupt-message]").textContent()).toBe(
        "Shall I go on?",
      );
      expect(await approve.locator("[data-testid=interrupt-expiry]").textContent()).toBe(
        "no expiry",
      );
      await approve.locator("[data-testid=interrupt-cancel]").click();
      await assistantSaid(page, `You answered: approve-${runId} cancelled`);
      await page.locator("[data-testid=interrupts]").waitFor({ state: "hidden" });
    });

    // Two at once (an agent of the test asks them), one answered by JSON: both go in one run.
    const asking = new AskingAgent([
      {
        id: "tags",
        reason: "input",
        message: "Which tags?",
        responseSchema: { type: "array", items: { type: "string" } },
      },
      { id: "publish", reason: "confirmation", message: "Publish it?" },
    ]);
    await server.tl.startRun({ threadId: "pair", agentId: "demo", agent: asking });
    await waitFor(
      async () => (await server.tl.store.threads.head("pair"))?.interrupts.length === 2,
      "the two interrupts",
      10_000,
    );
    await withPage("interrupts-json", async (page) => {
      await page.goto(`${server.url}/#/t/pair`);
      const tags = card(page, "tags");
      await tags.waitFor();
      expect(await page.locator("[data-testid=interrupts] > p").textContent()).toContain(
        "2 questions",
      );
      await tags.locator("[data-testid=interrupt-json]").fill("[1, 2");
      await tags.locator("[data-testid=interrupt-resolve]").click();
      await tags.locator("[data-testid=interrupt-error]", { hasText: "not JSON" }).waitFor();
      await tags.locator("[data-testid=interrupt-json]").fill("[1, 2]");
      await tags.locator("[data-testid=interrupt-resolve]").click();
      // Recorded, not sent: the other question is not answered yet.
      await tags.locator("[data-testid=interrupt-status]", { hasText: "publish" }).waitFor();
      await card(page, "publish").locator("[data-testid=interrupt-cancel]").click();
      // The server checks the first answer against its schema: shown on its card.
      await tags
        .locator("[data-testid=interrupt-error]", { hasText: "VALIDATION_FAILED" })
        .waitFor();
      expect(await tags.locator("[data-testid=interrupt-error] li").first().textContent()).toMatch(
        /^\/0: /,
      );
      expect((await server.tl.store.threads.head("pair"))?.interrupts).toHaveLength(2);
      // Nothing was answered: both are to be answered again.
      expect(await tags.locator("[data-testid=interrupt-status]").textContent()).toBe("");

      await tags.locator("[data-testid=interrupt-json]").fill('["weekly", "acme"]');
      await tags.locator("[data-testid=interrupt-resolve]").click();
      await card(page, "publish").locator("[data-testid=interrupt-cancel]").click();
      await assistantSaid(page, 'You answered: publish cancelled; tags resolved ["weekly","acme"]');
      await page.locator("[data-testid=interrupts]").waitFor({ state: "hidden" });
    });
  });
});
