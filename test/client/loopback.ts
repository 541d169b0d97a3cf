import type { BaseEvent } from "@ag-ui/core";
import type { ThreadEvent } from "../../src/client/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import {
  createMemoryData,
  createMemoryStore,
  type MemoryStoreData,
} from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline, type ThreadlineOptions } from "../../src/threadline.js";
import { GateAgent, waitFor } from "../helpers/agents.js";
import { interceptStore } from "../helpers/intercept-store.js";

/** A Threadline served over real loopback HTTP, on a memory store whose data can outlive it. */
export interface Loopback {
  tl: Threadline;
  url: string;
  port: number;
  data: MemoryStoreData;
  /** Closes client connections only: followers see a dropped stream, the server stays up. */
  dropConnections(): void;
  /** Closes the HTTP server (all connections) but leaves the runtime running. */
  closeHttp(): Promise<void>;
  /**
   * What a crash looks like from outside: the HTTP server goes away and the runtime never
   * reaches the store again (no writes, no lease renewals), so its lease runs out.
   */
  crash(): Promise<void>;
  close(): Promise<void>;
}

export async function startLoopback(
  opts: { data?: MemoryStoreData; port?: number } & Partial<ThreadlineOptions> = {},
): Promise<Loopback> {
  const { data = createMemoryData(), port = 0, ...rest } = opts;
  let crashed = false;
  // After a crash every store round-trip fails, as if this process had died.
  const store = interceptStore(createMemoryStore({ data }), (_method, call, args) =>
    crashed ? Promise.reject(new Error("this process has crashed")) : call(...args),
  );
  const tl = createThreadline({
    store,
    agents: { demo: new DemoAgent(), gate: new GateAgent() },
    ...rest,
  });
  const srv = await tl.listen({ port });
  let httpClosed = false;
  const closeHttp = async () => {
    if (httpClosed) return;
    httpClosed = true;
    await srv.close();
  };
  return {
    tl,
    url: srv.url,
    port: Number(new URL(srv.url).port),
    data,
    dropConnections: () =>
      (srv.server as unknown as { closeAllConnections(): void }).closeAllConnections(),
    closeHttp,
    async crash() {
      crashed = true;
      await closeHttp();
    },
    async close() {
      await closeHttp();
      await tl.close({ graceMs: 50 });
    },
  };
}

/** Consumes an async iterable in the background, keeping what arrived for assertions. */
export class Collector {
  readonly items: ThreadEvent[] = [];
  error: unknown;
  ended = false;
  readonly done: Promise<void>;

  constructor(source: AsyncIterable<ThreadEvent>) {
    this.done = (async () => {
      try {
        for await (const item of source) this.items.push(item);
      } catch (error) {
        this.error = error;
      } finally {
        this.ended = true;
      }
    })();
  }

  get events(): BaseEvent[] {
    return this.items.map((i) => i.event);
  }

  count(type: string): number {
    return this.items.filter((i) => i.event.type === type).length;
  }

  until(check: (c: Collector) => boolean, what: string, timeoutMs = 10_000): Promise<true> {
    return waitFor(
      () => {
        if (this.error) throw this.error;
        return check(this);
      },
      what,
      timeoutMs,
    ) as Promise<true>;
  }
}

export async function serverLog(tl: Threadline, threadId: string) {
  return tl.store.threads.read(threadId, { after: 0, limit: 100_000 });
}
