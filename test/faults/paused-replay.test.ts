import { connect, type Socket } from "node:net";
import type { BaseEvent } from "@ag-ui/core";
import { afterEach, describe, expect, it } from "vitest";
import { REPLAY_PAGE } from "../../src/core/replay-pages.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { claimedRun } from "../helpers/running-run.js";
import { waitFor } from "../helpers/wait-for.js";

let tl: Threadline | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await tl?.close({ graceMs: 50 });
  tl = undefined;
});

describe("a full replay to a follower that stops reading", () => {
  it("reads the store only as far as the socket takes, then the follower is cut off", async () => {
    // 12 pages of 1 KiB events (~60 MiB of frames): far more than the socket buffers hold.
    const pages = 12;
    const total = pages * REPLAY_PAGE;
    const store = createMemoryStore();
    const fence = await claimedRun(store, "t", "r1");
    const blob = "x".repeat(1024);
    const batch: BaseEvent[] = [];
    for (let seq = 1; seq <= total; seq++) {
      batch.push(
        seq === 1
          ? ({ type: "RUN_STARTED", threadId: "t", runId: "r1" } as BaseEvent)
          : seq === total
            ? ({ type: "RUN_FINISHED", threadId: "t", runId: "r1" } as BaseEvent)
            : ({ type: "CUSTOM", name: "blob", value: blob } as BaseEvent),
      );
      if (batch.length === 2_000) await store.threads.append("t", fence, batch.splice(0));
    }
    if (batch.length > 0) await store.threads.append("t", fence, batch.splice(0));
    let rowsRead = 0;
    const readText = store.threads.readText.bind(store.threads);
    store.threads.readText = async (threadId, opts) => {
      const out = await readText(threadId, opts);
      rowsRead += out.length;
      return out;
    };
    tl = createThreadline({ store, agents: {}, followerWriteTimeoutMs: 500 });
    await tl.ready;
    server = await tl.listen({ port: 0 });
    const { port } = new URL(server.url);

    // Reads the response headers, then never reads again.
    const socket: Socket = connect({ host: "127.0.0.1", port: Number(port) });
    socket.on("error", () => undefined);
    await new Promise<void>((resolve) => {
      socket.once("data", () => {
        socket.pause();
        resolve();
      });
      socket.write("GET /threads/t/events?replay=full HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    });

    await waitFor(() => tl!.fanout.followerCount("t") === 1, "the follower attached");
    // Stuck on a full socket past the write timeout: cut off (PROTOCOL.md §2.6).
    await waitFor(
      () => tl!.fanout.followerCount("t") === 0,
      "the stalled follower cut off",
      20_000,
    );
    socket.destroy();
    // What the socket buffers took, the page in Node's buffer and the one read ahead — not the
    // thread: memory stays bounded however long the history.
    expect(rowsRead).toBeGreaterThan(0);
    expect(rowsRead).toBeLessThanOrEqual(4 * REPLAY_PAGE);
  }, 60_000);
});
