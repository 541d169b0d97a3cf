import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CopilotRuntime, createCopilotRuntimeHandler } from "@copilotkit/runtime/v2";
import { createCopilotNodeHandler } from "@copilotkit/runtime/v2/node";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import {
  attachThreadlineSocket,
  ThreadlineAgentRunner,
  withThreadline,
} from "../../src/copilotkit/index.js";
import { ManualClock } from "../../src/core/scheduler/manual-clock.js";
import type { ThreadStore } from "../../src/core/store.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import type { AuthorizeHook } from "../../src/http/auth.js";
import { signWebhook } from "../../src/http/hooks/signature.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import type { RuntimeServer } from "../copilotkit/runtime-helpers.js";
import { launchBrowser, withScreenshotOnFailure } from "../helpers/browser.js";
import {
  messageTexts,
  send,
  sharedChatBuild,
  waitForReply,
  waitForRunning,
} from "../helpers/chat-page.js";
import { dropSchema, freshSchema } from "../helpers/pg.js";
import { describeWithService, PG_URL, type Probe, probePostgres } from "../helpers/services.js";
import { serveStatic } from "../helpers/static-server.js";
import { waitFor } from "../helpers/wait-for.js";
import { SocketWatch } from "../helpers/wake-page.js";

/**
 * The run-activity wake, end to end: CopilotKit's **stock** chat (`<CopilotKitProvider
 * runtimeUrl>` + `<CopilotChat threadId>`, the example's default mode) in Debian's Chromium, with
 * nothing but its `runtimeUrl` pointed at Threadline's CopilotKit surface. Runs the chat did not
 * start — posted to the native API, a heartbeat tick, a webhook, another instance — stream into
 * the open page. On SQLite and on PostgreSQL; one browser and one page build for every case.
 *
 * Access: an `authorize` hook where `Bearer <user>` may read the threads `<user>-*` (and `admin`
 * everything), so each page is one principal and the socket may only announce its threads.
 */
// The runtime's telemetry would try to reach the internet from every test.
process.env.COPILOTKIT_TELEMETRY_DISABLED = "true";

const HEARTBEAT_MS = 60_000;
const HOOK_SECRET = "wake-hook-secret";
const SECRET = "wake-test-join-token-secret";

const bearer = (request: Request) =>
  request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
const authorize: AuthorizeHook = (request, ctx) => {
  const user = bearer(request);
  if (!user) return false;
  return user === "admin" || !ctx.threadId || ctx.threadId.startsWith(`${user}-`);
};

interface Backend {
  name: string;
  probe(): Promise<Probe>;
  /**
   * A store on the data of suite `tag` (the same data every time: restarts, second instances;
   * each suite its own).
   */
  open(tag: string): Promise<ThreadStore>;
  cleanup(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), "threadline-wake-"));
const schemas = new Map<string, string>();
const schemaOf = (tag: string) => {
  if (!schemas.has(tag)) schemas.set(tag, freshSchema(`wake_${tag}`));
  return schemas.get(tag)!;
};
const backends: Backend[] = [
  {
    name: "sqlite",
    probe: async () => ({ name: "SQLite", up: true, reason: "" }),
    open: async (tag) => createSqliteStore({ path: join(dir, `${tag}.db`), pollMs: 20 }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  },
  {
    name: "postgres",
    probe: () => probePostgres(),
    open: (tag) =>
      createPostgresStore({ connectionString: PG_URL, schema: schemaOf(tag), pool: { max: 4 } }),
    cleanup: async () => {
      for (const schema of schemas.values()) await dropSchema(schema);
    },
  },
];

let browser: Browser;
let site: { url: string; close(): Promise<void> };
const pageErrors: string[] = [];

beforeAll(async () => {
  const build = sharedChatBuild();
  browser = await launchBrowser();
  site = await serveStatic(await build);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  for (const b of backends) await b.cleanup().catch(() => undefined);
});

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

type Kind = "threadline" | "runtime";

for (const backend of backends) {
  const probe = await backend.probe();
  for (const kind of ["threadline", "runtime"] as Kind[]) {
    const where =
      kind === "threadline" ? "Threadline's server" : "a CopilotRuntime with ThreadlineAgentRunner";
    describeWithService(probe, `stock CopilotKit chat wakes on ${where} (${backend.name})`, () =>
      wakeSuite(backend, kind),
    );
  }
}

function wakeSuite(backend: Backend, kind: Kind): void {
  const name = `${backend.name}-${kind}`;
  {
    const clock = new ManualClock();
    let tl: Threadline;
    let api: { url: string; close(): Promise<void> };
    let port = 0;
    let runtime: RuntimeServer | undefined;
    let runtimePort = 0;
    const pages: Page[] = [];
    /** The stock chat's `runtimeUrl`. */
    const runtimeUrl = () =>
      kind === "threadline" ? `${api.url}/copilotkit` : `${runtime!.url}/api/copilotkit`;

    async function start(): Promise<void> {
      tl = createThreadline({
        store: await backend.open(kind),
        agents: { demo: new DemoAgent() },
        authorize,
        // The page comes from another origin: the API and the socket must let it in.
        cors: [site.url],
        copilotkit: { secret: SECRET },
        clock,
        schedules: [
          {
            id: "alice-beat",
            agentId: "demo",
            threadId: "alice-beat",
            everyMs: HEARTBEAT_MS,
            input: { forwardedProps: { demo: { delayMs: 5 } } },
          },
        ],
        hooks: [{ id: "alice-hook", secret: HOOK_SECRET, agentId: "demo", thread: "alice-hook" }],
      });
      api = await tl.listen({ port });
      port = Number(new URL(api.url).port);
      if (kind === "runtime") {
        runtime = await serveWakeRuntime(tl, runtimePort);
        runtimePort = Number(new URL(runtime.url).port);
      }
    }

    async function stop(): Promise<void> {
      await runtime?.close();
      await api?.close();
      await tl?.close({ graceMs: 50 });
    }

    beforeAll(start, 60_000);
    afterAll(async () => {
      for (const p of pages) await p.close().catch(() => undefined);
      await stop();
    });

    /** Opens the stock chat as `user` on `thread` and waits until its wake is armed. */
    async function openChat(user: string, thread: string, query: Record<string, string> = {}) {
      const page = await browser.newPage();
      pages.push(page);
      page.on("pageerror", (e) => pageErrors.push(`${thread}: ${e.message}`));
      const socket = new SocketWatch(page);
      const url = `${site.url}/?${new URLSearchParams({ server: api.url, runtime: runtimeUrl(), thread, token: user, ...query })}`;
      await page.goto(url);
      await socket.waitForJoins(1);
      await waitForRunning(page, false);
      return { page, socket };
    }

    /** A run the chat did not start: `POST /threads/:id/runs` on the native API. */
    async function postRun(threadId: string, words: string[], extra: Record<string, unknown> = {}) {
      const res = await fetch(`${api.url}/threads/${threadId}/runs`, {
        method: "POST",
        headers: { authorization: "Bearer admin", "content-type": "application/json" },
        body: JSON.stringify({
          agentId: "demo",
          forwardedProps: { demo: { tokens: words, delayMs: 5 } },
          ...extra,
        }),
      });
      expect(res.status).toBe(202);
      const body = (await res.json()) as { runId: string; status: string };
      lastStatus = body.status;
      return body.runId;
    }
    /** The status `POST /threads/:id/runs` answered last (`queued` behind a busy thread). */
    let lastStatus = "";

    it("a run posted to the native API streams into the open chat", async () => {
      const { page } = await openChat("alice", "alice-1");
      await withScreenshotOnFailure(page, `${name}-posted-run`, async () => {
        await postRun("alice-1", ["posted ", "by ", "curl"]);
        await waitForReply(page, "posted by curl");
        await waitForRunning(page, false);
        expect(await messageTexts(page)).toEqual(["posted by curl"]);
      });
    });

    it("a heartbeat tick and a webhook stream in with no user action", async () => {
      const beat = await openChat("alice", "alice-beat");
      const hook = await openChat("alice", "alice-hook");
      await withScreenshotOnFailure(beat.page, `${name}-heartbeat`, async () => {
        await clock.advance(HEARTBEAT_MS);
        await waitForReply(beat.page, "Tick 1: the thread is alive.");
      });
      await withScreenshotOnFailure(hook.page, `${name}-webhook`, async () => {
        const body = JSON.stringify({ order: 42 });
        const res = await fetch(`${api.url}/hooks/alice-hook`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "X-Threadline-Signature": signWebhook(
              HOOK_SECRET,
              body,
              Math.floor(clock.now() / 1000),
            ),
          },
          body,
        });
        expect(res.status).toBe(202);
        await waitForReply(hook.page, "42");
        await waitForRunning(hook.page, false);
      });
    });

    it("a run that starts between page load and socket join is shown", async () => {
      const page = await browser.newPage();
      pages.push(page);
      page.on("pageerror", (e) => pageErrors.push(`gap: ${e.message}`));
      const socket = new SocketWatch(page);
      let runId = "";
      // Hold the join-token request until the chat's first connect is over, and start (and
      // finish) a run in that window: the socket joins only after it.
      const connected = page.waitForResponse((r) => r.url().includes("/agent/demo/connect"));
      await page.route("**/copilotkit/threads/subscribe", async (route) => {
        await (await connected).finished();
        runId = await postRun("alice-gap", ["in ", "the ", "gap"]);
        await waitFor(
          async () => (await tl.store.runs.get("alice-gap", runId))?.status === "succeeded",
          "the gap run",
        );
        await route.continue();
      });
      await page.goto(
        `${site.url}/?${new URLSearchParams({ server: api.url, thread: "alice-gap", token: "alice" })}`,
      );
      await withScreenshotOnFailure(page, `${name}-gap`, async () => {
        await socket.waitForJoins(1);
        await waitForReply(page, "in the gap");
        expect(socket.activity().some((a) => a.runId === runId)).toBe(true);
        await waitForRunning(page, false);
      });
    });

    it("the user's messages get one reply each; a server run queued behind one follows it", async () => {
      const { page } = await openChat("alice", "alice-chat", { tokens: "20", delayMs: "60" });
      await withScreenshotOnFailure(page, `${name}-own-and-queued`, async () => {
        await send(page, "first");
        await waitForReply(page, "w1w2w3");
        // While the user's run streams, the server queues one behind it.
        await postRun("alice-chat", ["queued ", "behind"], { multitask: "enqueue" });
        expect(lastStatus).toBe("queued");
        await waitForReply(page, "queued behind");
        await waitForRunning(page, false);
        expect(await messageTexts(page)).toEqual([
          Array.from({ length: 20 }, (_, i) => `w${i + 1}`).join(""),
          "queued behind",
        ]);
        // The input is not stuck: the user chats on, and each turn gets exactly one reply.
        await send(page, "second");
        await waitForReply(page, "w20", 2);
        await waitForRunning(page, false);
        const texts = await messageTexts(page);
        expect(texts).toHaveLength(3);
        expect(await messageTexts(page, "user")).toEqual(["first", "second"]);
      });
    });

    it("a second principal's chat is never woken by the first one's threads", async () => {
      const alice = await openChat("alice", "alice-private");
      const bob = await openChat("bob", "bob-1");
      await postRun("alice-private", ["for ", "alice"]);
      await waitForReply(alice.page, "for alice");
      await postRun("bob-1", ["for ", "bob"]);
      await waitForReply(bob.page, "for bob");
      const threads = (s: SocketWatch) => new Set(s.activity().map((a) => a.threadId));
      expect(threads(bob.socket).has("bob-1")).toBe(true);
      expect([...threads(bob.socket)].every((t) => String(t).startsWith("bob-"))).toBe(true);
      expect(threads(alice.socket).has("bob-1")).toBe(false);
    });

    it("CopilotKit's thread list (useThreads) lists, renames, archives and deletes, live", async () => {
      const done = async (threadId: string, runId: string) =>
        waitFor(
          async () => (await tl.store.runs.get(threadId, runId))?.status === "succeeded",
          threadId,
        );
      await done("alice-list-1", await postRun("alice-list-1", ["one"]));
      const { page } = await openChat("alice", "alice-list-1", { threads: "1" });
      const row = (id: string) => `[data-testid="thread-row"][data-thread-id="${id}"]`;
      const nameOf = (id: string) =>
        page.$eval(`${row(id)} [data-testid="thread-name"]`, (e) => e.textContent);
      await withScreenshotOnFailure(page, `${name}-thread-list`, async () => {
        await page.waitForSelector(row("alice-list-1"));
        // Only the principal's threads are listed.
        const ids = await page.$$eval('[data-testid="thread-row"]', (els) =>
          els.map((e) => e.getAttribute("data-thread-id")),
        );
        expect(ids.every((id) => id?.startsWith("alice-"))).toBe(true);
        // A thread a server run creates appears by itself.
        await postRun("alice-list-2", ["two"]);
        await page.waitForSelector(row("alice-list-2"));
        await page.fill('[data-testid="thread-name-input"]', "Renamed here");
        await page.click(`${row("alice-list-2")} [data-testid="thread-rename"]`);
        await waitFor(
          async () =>
            (await tl.store.threads.head("alice-list-2"))?.metadata.name === "Renamed here",
          "rename",
        );
        expect(await nameOf("alice-list-2")).toBe("Renamed here");
        await page.click(`${row("alice-list-2")} [data-testid="thread-archive"]`);
        await page.waitForSelector(`${row("alice-list-2")}[data-archived="true"]`);
        await waitFor(
          async () => (await tl.store.threads.head("alice-list-2"))?.metadata.archived === true,
          "archive",
        );
        await page.click(`${row("alice-list-2")} [data-testid="thread-delete"]`);
        await page.waitForSelector(row("alice-list-2"), { state: "detached" });
        await waitFor(async () => (await tl.store.threads.head("alice-list-2")) === null, "delete");
        // A rename made elsewhere (another tab, the same principal) shows up live.
        const res = await fetch(`${runtimeUrl()}/threads/alice-list-1`, {
          method: "PATCH",
          headers: { authorization: "Bearer alice", "content-type": "application/json" },
          body: JSON.stringify({ agentId: "demo", name: "Renamed elsewhere" }),
        });
        expect(res.status).toBe(200);
        await page.waitForFunction(
          (sel) => document.querySelector(sel)?.textContent === "Renamed elsewhere",
          `${row("alice-list-1")} [data-testid="thread-name"]`,
        );
      });
    });

    it("a run started by another instance on the same store streams in", async () => {
      const { page } = await openChat("alice", "alice-other");
      const other = createThreadline({
        store: await backend.open(kind),
        agents: { demo: new DemoAgent() },
      });
      try {
        await other.startRun({
          threadId: "alice-other",
          agentId: "demo",
          input: {
            forwardedProps: { demo: { tokens: ["from ", "instance ", "two"], delayMs: 30 } },
          },
        });
        await withScreenshotOnFailure(page, `${name}-other-instance`, async () => {
          await waitForReply(page, "from instance two");
          await waitForRunning(page, false);
        });
        await other.coordinator.idle("alice-other");
      } finally {
        await other.close({ graceMs: 50 });
      }
    });

    it("after a server restart the open page shows the next server run without a reload", async () => {
      // Only this page stays open across the restart.
      for (const p of pages.splice(0)) await p.close();
      const { page, socket } = await openChat("alice", "alice-restart");
      await withScreenshotOnFailure(page, `${name}-restart`, async () => {
        const before = pageErrors.length;
        await stop();
        await start();
        // CopilotKit reconnects with the same join token; it is still valid on the new process.
        await socket.waitForJoins(2);
        // While the server was down, CopilotKit's own requests failed ("network error",
        // uncaught in CopilotKit): expected then, and only then.
        const during = pageErrors.splice(before);
        expect(during.filter((e) => !/network error|Failed to fetch/.test(e))).toEqual([]);
        await postRun("alice-restart", ["after ", "the ", "restart"]);
        await waitForReply(page, "after the restart");
        await waitForRunning(page, false);
      });
    }, 60_000);
  }
}

/** A real CopilotRuntime on `tl`'s threads, with the wake added by `withThreadline`. */
async function serveWakeRuntime(tl: Threadline, port: number): Promise<RuntimeServer> {
  const runtime = new CopilotRuntime({
    agents: { demo: new DemoAgent() },
    runner: new ThreadlineAgentRunner({ threadline: tl }),
  });
  const options = withThreadline(
    { runtime, basePath: "/api/copilotkit", cors: true },
    { threadline: tl },
  );
  const server = createServer(createCopilotNodeHandler(createCopilotRuntimeHandler(options)));
  const detach = attachThreadlineSocket(server, options);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        detach();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
