import { readFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { AbstractAgent } from "@ag-ui/client";
import { type BaseEvent, EventType, type RunAgentInput } from "@ag-ui/core";
import { Observable } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { TERMINAL_RUN_STATUSES } from "../../src/core/types.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { type Frame, readFrames } from "../helpers/sse.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Streams `count` CUSTOM events of `size` bytes, one per turn of the event loop (CUSTOM: they do
 * not grow the thread's messages, so the run itself stays cheap).
 */
class BigAgent extends AbstractAgent {
  constructor(
    private readonly count = 1_500,
    private readonly size = 16 << 10,
  ) {
    super();
  }
  override clone(): BigAgent {
    return new BigAgent(this.count, this.size);
  }
  override run(input: RunAgentInput): Observable<BaseEvent> {
    return new Observable<BaseEvent>((sub) => {
      const value = "x".repeat(this.size);
      let i = 0;
      let timer: NodeJS.Immediate | undefined;
      sub.next({ type: EventType.RUN_STARTED, threadId: input.threadId, runId: input.runId });
      const step = () => {
        if (i++ < this.count) {
          sub.next({ type: EventType.CUSTOM, name: "blob", value } as BaseEvent);
          timer = setImmediate(step);
          return;
        }
        sub.next({ type: EventType.RUN_FINISHED, threadId: input.threadId, runId: input.runId });
        sub.complete();
      };
      timer = setImmediate(step);
      return () => clearImmediate(timer);
    });
  }
}

let tl: Threadline | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await tl?.close({ graceMs: 50 });
  tl = undefined;
});

async function boot() {
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { big: new BigAgent() },
    followerWriteTimeoutMs: 2_000,
  });
  await tl.ready;
  await tl.store.threads.ensure("t");
  return tl;
}

async function runToEnd(t: Threadline, runId: string) {
  return waitFor(
    async () => {
      const r = await t.store.runs.get("t", runId);
      return r && TERMINAL_RUN_STATUSES.has(r.status) ? r : undefined;
    },
    "the run to end",
    20_000,
  );
}

/**
 * Bytes the kernel still holds to send from the server's end of a connection (Linux:
 * /proc/net/tcp{,6}, tx_queue of the socket bound to `serverPort` talking to `peerPort`).
 */
async function queuedForPeer(serverPort: string, peerPort: number): Promise<number> {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  let total = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const [, local, remote, , queues] = line.trim().split(/\s+/);
      if (!local?.endsWith(`:${hex(Number(serverPort))}`)) continue;
      if (!remote?.endsWith(`:${hex(peerPort)}`)) continue;
      total += Number.parseInt(queues!.split(":")[0]!, 16);
    }
  }
  return total;
}

/** Frames (ids) of a follow from `after`, to the end of the log. */
async function resumeFrom(url: string, after: number): Promise<Frame[]> {
  const res = await fetch(`${url}/threads/t/events?follow=false&replay=full`, {
    headers: { "Last-Event-ID": String(after) },
  });
  const frames: Frame[] = [];
  for await (const f of readFrames(res.body!)) frames.push(f);
  return frames.filter((f) => f.id);
}

describe("a follower that stops reading", () => {
  it("over a real socket is cut off past the deadline, frees its buffers, and resumes from its cursor", async () => {
    const t = await boot();
    server = await t.listen({ port: 0 });
    const { port } = new URL(server.url);
    // A socket that reads the response headers and then never reads again.
    const socket: Socket = connect({ host: "127.0.0.1", port: Number(port) });
    let received = "";
    let closed = false;
    socket.on("error", () => undefined);
    socket.on("close", () => {
      closed = true;
    });
    await new Promise<void>((resolve) => {
      socket.once("data", (d: Buffer) => {
        received += d.toString("latin1");
        socket.pause();
        // What arrives after the reset is dropped by the kernel; what it delivers we keep.
        socket.on("data", (more: Buffer) => {
          received += more.toString("latin1");
        });
        resolve();
      });
      socket.write("GET /threads/t/events?after=0&replay=full HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    });
    expect(received).toMatch(/^HTTP\/1\.1 200/);

    // A follower that reads, alongside.
    const reading = fetch(`${server.url}/threads/t/events?replay=full`).then(async (res) => {
      const frames: Frame[] = [];
      for await (const f of readFrames(res.body!)) {
        frames.push(f);
        if (f.data?.type === "RUN_FINISHED") break;
      }
      return frames;
    });
    await waitFor(() => t.fanout.followerCount("t") === 2, "both followers attached");
    const { runId } = await t.startRun({ threadId: "t", agentId: "big" });

    // 24 MiB of events: far more than the socket buffers hold. The stalled follower is dropped
    // by the server (not only its queue: its connection) and the socket is reset.
    expect((await runToEnd(t, runId)).status).toBe("succeeded");
    const readingFrames = await reading;
    const lastSeq = (await t.store.threads.head("t"))!.lastSeq;
    expect(Number(readingFrames.filter((f) => f.id).at(-1)!.id)).toBe(lastSeq);
    await waitFor(() => t.fanout.followerCount("t") === 0, "the stalled follower cut off", 15_000);
    // Reset, not closed: a closed socket would keep megabytes queued in the kernel for a
    // reader that never reads (FIN_WAIT1 with its send queue full).
    expect(await queuedForPeer(port, socket.localPort!)).toBe(0);
    socket.resume();
    await waitFor(() => closed, "the stalled socket closed", 5_000);

    // It reconnects with the last id it got (none here: it read nothing) and misses nothing.
    const ids = received.match(/^id: (\d+)$/gm) ?? [];
    const cursor = ids.length > 0 ? Number(ids.at(-1)!.slice(4)) : 0;
    const rest = await resumeFrom(server.url, cursor);
    expect(rest.map((f) => Number(f.id))).toEqual(
      Array.from({ length: lastSeq - cursor }, (_, i) => cursor + 1 + i),
    );
  });

  it("through the web stream (the app mounted elsewhere) is ended past the deadline", async () => {
    const t = await boot();
    const res = await t.app.request("/threads/t/events?after=0&replay=full");
    const reader = res.body!.getReader();
    await waitFor(() => t.fanout.followerCount("t") === 1, "the follower attached");
    const { runId } = await t.startRun({ threadId: "t", agentId: "big" });
    // It reads one chunk, then nothing.
    const first = await reader.read();
    expect(first.done).toBe(false);
    await waitFor(() => t.fanout.followerCount("t") === 0, "the stalled stream ended", 15_000);
    await expect(reader.read()).rejects.toThrow(/stopped reading/);
    expect((await runToEnd(t, runId)).status).toBe("succeeded");
  });
});
