import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";

/** Builds `examples/copilotkit-chat` with Vite's JS API into `outDir` (fast settings: no minify). */
export async function buildChatExample(outDir: string): Promise<void> {
  const { build } = await import("vite");
  await build({
    configFile: fileURLToPath(
      new URL("../../examples/copilotkit-chat/vite.config.ts", import.meta.url),
    ),
    logLevel: "warn",
    build: { outDir, emptyOutDir: true, minify: false, reportCompressedSize: false },
  });
}

const ASSISTANT = '[data-testid="copilot-assistant-message"]';
const USER = '[data-testid="copilot-user-message"]';

/** Texts of the chat's assistant (or user) messages, in order. */
export function messageTexts(page: Page, role: "assistant" | "user" = "assistant") {
  return page.$$eval(role === "assistant" ? ASSISTANT : USER, (els) =>
    els.map((e) => e.textContent ?? ""),
  );
}

/** Waits until `count` assistant messages contain `text` (polling in the page, with a deadline). */
export async function waitForReply(page: Page, text: string, count = 1, timeout = 15_000) {
  await page.waitForFunction(
    ({ selector, text, count }) =>
      [...document.querySelectorAll(selector)].filter((e) => e.textContent?.includes(text))
        .length >= count,
    { selector: ASSISTANT, text, count },
    { timeout, polling: 50 },
  );
}

/** Waits for the chat's own running flag (`data-copilot-running` on the chat view). */
export async function waitForRunning(page: Page, running: boolean, timeout = 15_000) {
  await page.waitForSelector(`[data-copilot-running="${running}"]`, { timeout });
}

/** Waits for the example's follow status badge. */
export async function waitForFollow(page: Page, state: string, timeout = 15_000) {
  await page.waitForFunction(
    (s) => document.querySelector('[data-testid="follow-status"]')?.textContent === s,
    state,
    { timeout, polling: 50 },
  );
}

/** Types a message into the chat and sends it, as a person would. */
export async function send(page: Page, text: string) {
  await page.fill('[data-testid="copilot-chat-textarea"]', text);
  await page.press('[data-testid="copilot-chat-textarea"]', "Enter");
}
