import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMIUM_PATH, launchBrowser } from "../../test/helpers/browser.js";
import { sharedChatBuild } from "../../test/helpers/chat-page.js";
import { serveStatic } from "../../test/helpers/static-server.js";
import { fmt } from "../lib/report.js";
import { scratchDir } from "../lib/scratch.js";
import type { Context } from "./context.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const THREAD = "bench-wake";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `threadline serve` (the real CLI) on SQLite, in its own process, as a user would run it. */
async function startServer(pageOrigin: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const db = join(scratchDir("wake"), "wake.db");
  const args = ["--import", "tsx", "src/cli/main.ts", "serve", "--port", String(port)];
  args.push("--store", `sqlite:${db}`, "--heartbeat-ms", "0", "--log-level", "warn");
  args.push("--cors", pageOrigin);
  const child = spawn(process.execPath, args, {
    cwd: repo,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`threadline serve exited (${child.exitCode})`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, child };
    if (Date.now() > deadline) throw new Error("threadline serve did not come up");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;

/**
 * Scenario 6, the CopilotKit wake: a run posted to the server (`POST /threads/:id/runs`) → its
 * first text in the DOM of CopilotKit's **stock** chat (the example's default mode: nothing but
 * `runtimeUrl`), which learns of the run over the run-activity socket and re-connects. The clock
 * starts in this process just before the POST and stops in the page when a MutationObserver
 * first sees the run's word (both `performance.timeOrigin + performance.now()`, one machine).
 */
export async function wakeScenario(ctx: Context): Promise<void> {
  const runs = ctx.opts.sizes.wake.runs;
  if (!existsSync(CHROMIUM_PATH)) {
    ctx.report.target({
      scenario: "6",
      text: "wake latency (server run → first text in a stock CopilotKit chat): median under 500 ms",
      measured: `not measured: no Chromium at ${CHROMIUM_PATH}`,
      met: null,
    });
    return;
  }
  const site = await serveStatic(await sharedChatBuild());
  const server = await startServer(site.url);
  const browser = await launchBrowser();
  const latencies: number[] = [];
  try {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      const seen: Record<string, number> = {};
      (window as unknown as { __wakeSeen: Record<string, number> }).__wakeSeen = seen;
      new MutationObserver(() => {
        const text = document.body?.textContent ?? "";
        for (const m of text.matchAll(/wake(\d+)x/g)) {
          seen[m[1]!] ??= performance.timeOrigin + performance.now();
        }
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    let joined = false;
    page.on("websocket", (ws) =>
      ws.on("framereceived", ({ payload }) => {
        if (String(payload).includes('"phx_reply"') && String(payload).includes("user_meta:"))
          joined = true;
      }),
    );
    await page.goto(`${site.url}/?${new URLSearchParams({ server: server.url, thread: THREAD })}`);
    const deadline = Date.now() + 30_000;
    while (!joined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!joined) throw new Error("the stock chat's socket did not join");
    const warmup = 2;
    for (let i = 1; i <= warmup + runs; i++) {
      const t0 = performance.timeOrigin + performance.now();
      const res = await fetch(`${server.url}/threads/${THREAD}/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          agentId: "demo",
          forwardedProps: { demo: { tokens: [`wake${i}x `, "done"], delayMs: 0 } },
        }),
      });
      if (res.status !== 202) throw new Error(`POST run: ${res.status}`);
      const seenAt = await page.waitForFunction(
        (n) => (window as unknown as { __wakeSeen: Record<string, number> }).__wakeSeen[n],
        String(i),
        { timeout: 15_000, polling: 10 },
      );
      const at = (await seenAt.jsonValue()) as number;
      if (i > warmup) latencies.push(at - t0);
      // The next run starts from an idle chat, as a real server run would find it.
      await page.waitForSelector('[data-copilot-running="false"]', { timeout: 15_000 });
    }
  } finally {
    await browser.close();
    await site.close();
    server.child.kill("SIGTERM");
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const p95 = quantile(sorted, 0.95);
  ctx.report.section({
    title: "6. CopilotKit wake: a server run in a stock chat",
    intro:
      "`POST /threads/:id/runs` on `threadline serve` (SQLite) → the run's first word in the DOM of CopilotKit's stock `<CopilotChat>` (Chromium, `runtimeUrl` only), which hears of the run on the run-activity socket and re-connects over SSE.",
    headers: ["runs", "median ms", "p95 ms", "min ms", "max ms"],
    rows: [
      [
        latencies.length,
        fmt(median, 1),
        fmt(p95, 1),
        fmt(sorted[0] ?? Number.NaN, 1),
        fmt(sorted[sorted.length - 1] ?? Number.NaN, 1),
      ],
    ],
  });
  ctx.report.target({
    scenario: "6",
    text: "wake latency (server run → first text in a stock CopilotKit chat): median under 500 ms",
    measured: `median ${fmt(median, 1)} ms, p95 ${fmt(p95, 1)} ms over ${latencies.length} runs`,
    met: median < 500,
  });
}
