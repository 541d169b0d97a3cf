import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
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

const repo = fileURLToPath(new URL("../..", import.meta.url));

function hashTree(hash: ReturnType<typeof createHash>, path: string): void {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name !== "dist" && name !== "node_modules") hashTree(hash, join(path, name));
    }
  } else {
    hash.update(path).update(readFileSync(path));
  }
}

/**
 * The chat example built once for every browser test file (they run in parallel workers): the
 * build lands in `node_modules/.cache`, keyed by a hash of its sources, under a lock directory
 * so the first worker builds and the others wait for it.
 */
export async function sharedChatBuild(): Promise<string> {
  const hash = createHash("sha256");
  for (const p of [
    "examples/copilotkit-chat",
    "src/client",
    "src/protocol.ts",
    "package-lock.json",
  ]) {
    hashTree(hash, join(repo, p));
  }
  const root = join(repo, "node_modules", ".cache", "threadline-chat-example");
  const dir = join(root, hash.digest("hex").slice(0, 16));
  const lock = `${dir}.lock`;
  mkdirSync(root, { recursive: true });
  const deadline = Date.now() + 240_000;
  while (!existsSync(join(dir, "index.html"))) {
    try {
      mkdirSync(lock);
    } catch {
      // Another worker builds; a lock older than the deadline is a crashed build's.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 240_000)
        rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error("timed out waiting for the chat example build");
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      const tmp = `${dir}.tmp-${process.pid}`;
      await buildChatExample(tmp);
      renameSync(tmp, dir);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return dir;
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
