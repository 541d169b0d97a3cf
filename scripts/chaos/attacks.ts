import { readFileSync } from "node:fs";
import { connect } from "node:net";
import type { BaseEvent } from "@ag-ui/core";
import { signWebhook } from "../../src/http/hooks/signature.js";
import { HEADER_DELIVERY, HEADER_SIGNATURE } from "../../src/protocol.js";
import { type Frame, readFrames } from "../../test/helpers/sse.js";
import { verifyWithAgUi } from "../../test/helpers/verify.js";
import type { StoreName } from "./backends.js";
import { type ChaosContext, HOOK_ID, HOOK_SECRET, WRITE_TIMEOUT_MS } from "./context.js";
import { call, rawRequest, readLog, runEnded, runsOf, startRun, until } from "./http.js";

/** What an attack observed against what it expected (the table's "status" column). */
export interface Outcome {
  expected: string;
  got: string;
  ok: boolean;
  /** The attack destroys the store's data by design (Redis lost data): "intact" means detected. */
  dataLoss?: boolean;
}

export interface Attack {
  /** The item of issue 12 it replays (1-12). */
  item: string;
  name: string;
  stores: readonly StoreName[];
  run(ctx: ChaosContext): Promise<Outcome>;
}

const ALL: readonly StoreName[] = ["sqlite", "postgres", "redis"];
const outcome = (expected: string, got: string): Outcome => ({
  expected,
  got,
  ok: got === expected,
});

/** A long run streaming on `threadId`; resolves once `minSeq` of its events are committed. */
async function streamingRun(ctx: ChaosContext, threadId: string, minSeq = 30) {
  const { body } = await startRun(ctx.url, threadId, { tokens: 4_000, delayMs: 1 });
  const runId = String(body.runId);
  await until(async () => {
    const t = await call(ctx.url, `/threads/${threadId}`);
    return Number(t.body.lastSeq ?? 0) >= minSeq;
  }, `${threadId} to stream`);
  return runId;
}

/** A deep JSON value: `[[[...]]]` nested `depth` levels. */
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

export const ATTACKS: readonly Attack[] = [
  {
    item: "1",
    name: "store connections killed while a run writes",
    stores: ["postgres", "redis"],
    async run(ctx) {
      const runId = await streamingRun(ctx, "a1");
      const killed = await ctx.backend.killConnections!();
      const run = await runEnded(ctx.url, "a1", runId);
      // Interrupted (closed by its own process once the store answered), or finished when the
      // driver's reconnect came in time: either way it ended, and the log verifies (column 4).
      return {
        expected: "connections killed; run ended",
        got: `${killed} connections killed; run ${run.status}`,
        ok: killed > 0 && TERMINAL_OK.has(run.status),
      };
    },
  },
  {
    item: "1",
    name: "store restarted while a run writes",
    stores: ["postgres"],
    async run(ctx) {
      const runId = await streamingRun(ctx, "a1b");
      await ctx.backend.restart!();
      const run = await runEnded(ctx.url, "a1b", runId);
      return outcome("run interrupted", `run ${run.status}`);
    },
  },
  {
    item: "2",
    name: "demo agent scripted to exhaust memory / block the loop",
    stores: ALL,
    async run(ctx) {
      const statuses = [
        (await startRun(ctx.url, "a2", { tokens: 3e8 })).status,
        (await startRun(ctx.url, "a2", { tokens: 1e6, delayMs: 0 })).status,
        (await startRun(ctx.url, "a2", { tokens: 10, delayMs: 1e9 })).status,
      ];
      // The largest script allowed, with no delay: /healthz must keep answering meanwhile.
      const { body } = await startRun(ctx.url, "a2", { tokens: 10_000, delayMs: 0 });
      let slowest = 0;
      const done = runEnded(ctx.url, "a2", String(body.runId));
      let ended = false;
      void done.then(() => {
        ended = true;
      });
      while (!ended) {
        const t0 = performance.now();
        await fetch(`${ctx.url}/healthz`);
        slowest = Math.max(slowest, performance.now() - t0);
      }
      const healthz = slowest < 1_000 ? "healthz < 1 s" : `healthz ${Math.round(slowest)} ms`;
      return outcome("400,400,400; healthz < 1 s", `${statuses.join(",")}; ${healthz}`);
    },
  },
  {
    item: "3",
    name: "webhook replays (changed delivery id, extra hex digit, same request)",
    stores: ALL,
    async run(ctx) {
      const body = JSON.stringify({ hello: "chaos" });
      const post = (headers: Record<string, string>) =>
        call(ctx.url, `/hooks/${HOOK_ID}`, {
          body,
          headers: { "content-type": "application/json", ...headers },
        });
      const v2 = signWebhook(HOOK_SECRET, body, { deliveryId: "d1" });
      const first = await post({ [HEADER_SIGNATURE]: v2, [HEADER_DELIVERY]: "d1" });
      const otherId = await post({ [HEADER_SIGNATURE]: v2, [HEADER_DELIVERY]: "d2" });
      const v1 = signWebhook(HOOK_SECRET, body);
      const v1ok = await post({ [HEADER_SIGNATURE]: v1 });
      const extraHex = await post({ [HEADER_SIGNATURE]: `${v1}0` });
      const again = await post({ [HEADER_SIGNATURE]: v2, [HEADER_DELIVERY]: "d1" });
      const runs = await runsOf(ctx.url, "hooked");
      const got = `${first.status},${otherId.status},${v1ok.status},${extraHex.status},${again.status}; ${runs.length} runs`;
      return outcome("202,401,202,401,200; 2 runs", got);
    },
  },
  {
    item: "4",
    name: "foreign page (Origin) and DNS rebinding (Host)",
    stores: ALL,
    async run(ctx) {
      const simplePost = await rawRequest(ctx.url, "/threads/a4/runs", {
        method: "POST",
        headers: { origin: "http://evil.example", "content-type": "text/plain" },
        body: JSON.stringify({ agentId: "demo" }),
      });
      const read = await rawRequest(ctx.url, "/threads", {
        headers: { origin: "http://evil.example" },
      });
      const rebound = await rawRequest(ctx.url, "/threads", {
        headers: { host: `evil.example:${ctx.server.port}` },
      });
      const created = await call(ctx.url, "/threads/a4");
      const got = `${simplePost.status},${read.status},${rebound.status}; thread ${created.status}`;
      return outcome("403,403,403; thread 404", got);
    },
  },
  {
    item: "5",
    name: "deeply nested JSON (10,000 levels; 2,000 inside a message)",
    stores: ALL,
    async run(ctx) {
      const deep = nested(10_000);
      const routes: [string, string][] = [
        ["POST", "/threads/a5/runs"],
        ["POST", "/threads"],
        ["PATCH", "/threads/sentinel"],
        ["POST", "/schedules"],
        ["POST", "/agent/demo/run"],
      ];
      const statuses: number[] = [];
      for (const [method, path] of routes) {
        statuses.push((await call(ctx.url, path, { method, body: deep })).status);
      }
      const inMessage = await call(ctx.url, "/threads/a5/runs", {
        body: `{"agentId":"demo","messages":[{"id":"m","role":"user","content":${nested(2_000)}}]}`,
      });
      const got = `${statuses.join(",")}; in a message ${inMessage.status}`;
      return outcome("400,400,400,400,400; in a message 400", got);
    },
  },
  {
    item: "7",
    name: "store unanswerable: /readyz 503, /healthz 200, then ready again",
    stores: ["postgres", "redis"],
    async run(ctx) {
      const during = (async () => {
        // Probe while the store is out.
        await new Promise((r) => setTimeout(r, 300));
        const ready = await fetch(`${ctx.url}/readyz`);
        const health = await fetch(`${ctx.url}/healthz`);
        return `${ready.status},${health.status}`;
      })();
      await ctx.backend.outage!(3_000);
      const down = await during;
      const back = await until(
        async () => (await fetch(`${ctx.url}/readyz`)).status === 200,
        "ready again",
        20_000,
      ).then(() => "ready again");
      return outcome("503,200; ready again", `${down}; ${back}`);
    },
  },
  {
    item: "8",
    name: "a follower that never reads",
    stores: ALL,
    async run(ctx) {
      await call(ctx.url, "/threads", { body: { threadId: "a8" } });
      const port = ctx.server.port;
      const socket = connect({ host: "127.0.0.1", port });
      await new Promise((r) => socket.once("connect", r));
      socket.write(
        `GET /threads/a8/events?replay=full HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
      );
      socket.pause();
      socket.on("error", () => undefined);
      const cut = () => tcpState(socket.localPort!) !== ESTABLISHED;
      // Runs whose prompts are ~900 KB each (every RUN_STARTED carries its prompt) until the
      // kernel buffers and the live queue are full and the server cuts the follower off.
      let runs = 0;
      for (; runs < 80 && !cut(); runs++) {
        const prompt = { id: `big-${runs}`, role: "user", content: "x".repeat(900_000) };
        const { body } = await startRun(ctx.url, "a8", { tokens: 1 }, { messages: [prompt] });
        await runEnded(ctx.url, "a8", String(body.runId), 30_000);
      }
      // A live follow never ends by itself: gone means cut off.
      const got = await until(cut, "the follower to be cut off", WRITE_TIMEOUT_MS + 10_000).then(
        () => "cut off",
        () => "still attached",
      );
      socket.destroy();
      return { ...outcome("cut off", got), got: `${got} after ${runs} runs of ~0.9 MB` };
    },
  },
  {
    item: "9",
    name: "client run ids in the schedule / webhook / snapshot namespaces",
    stores: ALL,
    async run(ctx) {
      const statuses: number[] = [];
      for (const runId of [
        "schedule:x:2026-01-01T00:00:00.000Z",
        "hook:chaos:d9",
        "threadline-snapshot-1",
      ]) {
        statuses.push((await startRun(ctx.url, "a9", {}, { runId })).status);
      }
      const ck = await call(ctx.url, "/agent/demo/run", {
        body: {
          threadId: "a9",
          runId: "not an id!",
          messages: [],
          state: {},
          tools: [],
          context: [],
        },
      });
      return outcome(
        "400,400,400; copilotkit 400",
        `${statuses.join(",")}; copilotkit ${ck.status}`,
      );
    },
  },
  {
    item: "10",
    name: "SIGTERM while stdout is a closed pipe",
    stores: ALL,
    async run(ctx) {
      const other = await ctx.spawn();
      other.child.stdout?.destroy();
      other.child.stderr?.destroy();
      // Something to log after the pipe closed.
      await fetch(`${other.url}/threads/nope`).catch(() => undefined);
      const t0 = Date.now();
      other.child.kill("SIGTERM");
      const code = await Promise.race([
        new Promise<number | null>((r) => other.child.once("exit", (c) => r(c))),
        new Promise<"hung">((r) => setTimeout(() => r("hung"), 15_000)),
      ]);
      if (code === "hung") other.child.kill("SIGKILL");
      const took = Date.now() - t0;
      return outcome(
        "exit 0 < 10 s",
        code === 0 && took < 10_000 ? "exit 0 < 10 s" : `exit ${code} after ${took} ms`,
      );
    },
  },
  {
    item: "11",
    name: "server killed (-9) right as a run starts",
    stores: ALL,
    async run(ctx) {
      const messageId = "m-a11";
      const accepted = await call(ctx.url, "/threads/a11/runs", {
        body: {
          agentId: "demo",
          multitask: "enqueue",
          messages: [{ id: messageId, role: "user", content: "remember me" }],
          forwardedProps: { demo: { tokens: 2_000, delayMs: 2 } },
        },
      });
      await ctx.server.kill9();
      await ctx.restart();
      const run = await runEnded(ctx.url, "a11", String(accepted.body.runId), 30_000);
      const log = await readLog(ctx.url, "a11");
      const started = log.find((r) => r.event.type === "RUN_STARTED");
      const input = (started?.event as BaseEvent & { input?: { messages?: { id: string }[] } })
        ?.input;
      const kept = input?.messages?.some((m) => m.id === messageId)
        ? "prompt in log"
        : "prompt lost";
      return outcome(
        "ended; prompt in log",
        `${TERMINAL_OK.has(run.status) ? "ended" : run.status}; ${kept}`,
      );
    },
  },
  {
    item: "12",
    name: "oversized URL and headers, odd paths, CopilotKit run ids",
    stores: ALL,
    async run(ctx) {
      const url9k = await rawRequest(ctx.url, `/threads?q=${"a".repeat(9 * 1024)}`);
      const url20k = await rawRequest(ctx.url, `/threads?q=${"a".repeat(20 * 1024)}`);
      const headers = await rawRequest(ctx.url, "/threads", {
        headers: { "x-big": "b".repeat(20 * 1024) },
      });
      const proto = await rawRequest(ctx.url, "/_inspector/__proto__");
      const json = [url9k, url20k, headers].every((r) => r.code !== undefined)
        ? "json"
        : "not json";
      const got = `${url9k.status},${url20k.status},${headers.status} ${json}; __proto__ ${proto.status}`;
      return outcome("414,431,431 json; __proto__ 404", got);
    },
  },
  {
    item: "6",
    name: "Redis restarted without its data, a run writing, followers attached",
    stores: ["redis"],
    async run(ctx) {
      await call(ctx.url, "/threads", { body: { threadId: "a6" } });
      const follow = await fetch(`${ctx.url}/threads/a6/events?replay=full`);
      const frames: Frame[] = [];
      const reading = (async () => {
        for await (const f of readFrames(follow.body!)) frames.push(f);
      })();
      await streamingRun(ctx, "a6");
      await ctx.backend.loseData!();
      await until(
        async () => {
          await reading;
          return true;
        },
        "the follower's stream to end",
        10_000,
      );
      const ended = frames.at(-1)?.comment === "data-lost" ? "data-lost" : "no marker";
      const valid = await verifyWithAgUi(frames.filter((f) => f.data).map((f) => f.data!)).then(
        () => "valid",
        () => "invalid",
      );
      const ready = await call(ctx.url, "/readyz");
      const post = await startRun(ctx.url, "a6");
      // Nothing may have been written into the empty keyspace (no seq reused).
      const keys = await ctx.backend.keyCount!();
      const got = `follower ${ended} (${valid}); readyz ${ready.status} ${ready.body.error?.code}; run ${post.status}; ${keys} keys`;
      return {
        ...outcome("follower data-lost (valid); readyz 503 DATA_LOST; run 503; 0 keys", got),
        dataLoss: true,
      };
    },
  },
];

const ESTABLISHED = "01";

/** The TCP state of this host's loopback connection from `localPort` (Linux /proc/net/tcp). */
function tcpState(localPort: number): string | undefined {
  const hex = `:${localPort.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1]?.endsWith(hex)) return fields[3];
  }
  return undefined;
}

const TERMINAL_OK = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
