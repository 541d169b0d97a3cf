/**
 * The replay ceiling: a thread's stored rows read with the bare driver, in pages of PAGE rows
 * (the next page is requested while this one is written), and streamed as SSE frames
 * (`id: <seq>`, `data: <the stored JSON text as is>`) in 64 KiB writes with backpressure. What
 * `GET /threads/:id/events?replay=full&follow=false` could cost if it never parsed an event.
 * Reads mirror src/stores/sqlite/threads.ts (`events`), src/stores/postgres/threads.ts (`read`,
 * with the json column read as text) and src/stores/redis/threads.ts (`readLog`: XRANGE).
 */
import type { ServerResponse } from "node:http";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import pg from "pg";
import type { StoreLocation } from "../lib/stores.js";

const PAGE = 5000;
const CHUNK = 64 * 1024;

/** One page of rows after `after`: [seq, event JSON] pairs, ascending. */
type Page = Array<[number, string]>;

export interface ReplaySource {
  page(threadId: string, after: number): Promise<Page>;
  close(): Promise<void>;
}

export async function openReplaySource(
  loc: StoreLocation,
  urls: { postgres: string; redis: string },
): Promise<ReplaySource> {
  if (loc.store === "sqlite" && loc.path) {
    const db = new Database(loc.path, { readonly: true });
    const stmt = db
      .prepare<[string, number, number], [number, string]>(
        "SELECT seq, event FROM events WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      )
      .raw();
    return {
      page: async (threadId, after) => stmt.all(threadId, after, PAGE),
      close: async () => {
        db.close();
      },
    };
  }
  if (loc.store === "postgres" && loc.schema) {
    const client = new pg.Client({ connectionString: urls.postgres });
    await client.connect();
    const text = `SELECT seq, event::text FROM "${loc.schema}".events
      WHERE thread_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`;
    return {
      async page(threadId, after) {
        const r = await client.query<[string, string]>({
          text,
          values: [threadId, after, PAGE],
          rowMode: "array",
        });
        return r.rows.map(([seq, e]) => [Number(seq), e]);
      },
      close: () => client.end(),
    };
  }
  if (loc.store === "redis" && loc.prefix) {
    const redis = new Redis(urls.redis);
    return {
      async page(threadId, after) {
        const entries = (await redis.xrange(
          `${loc.prefix}:log:${threadId}`,
          `${after + 1}-0`,
          "+",
          "COUNT",
          PAGE,
        )) as [string, string[]][];
        return entries.map(([id, fields]) => {
          const e = fields[fields.indexOf("e") + 1]!;
          return [Number.parseInt(id, 10), e];
        });
      },
      close: async () => {
        redis.disconnect();
      },
    };
  }
  throw new Error(`no replay ceiling for ${JSON.stringify(loc)}`);
}

const drained = (res: ServerResponse) =>
  new Promise<void>((resolve, reject) => {
    const off = () => {
      res.off("drain", ok);
      res.off("close", gone);
    };
    const ok = () => {
      off();
      resolve();
    };
    const gone = () => {
      off();
      reject(new Error("the client went away"));
    };
    res.once("drain", ok);
    res.once("close", gone);
  });

/** Streams the whole log of `threadId` to `res`; returns the frames written. */
export async function streamReplay(
  source: ReplaySource,
  threadId: string,
  res: ServerResponse,
): Promise<number> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  let frames = 0;
  let next = source.page(threadId, 0);
  let buf = "";
  for (;;) {
    const rows = await next;
    if (rows.length === 0) break;
    // Prefetch: the store reads the next page while this one is written.
    next = source.page(threadId, rows[rows.length - 1]![0]);
    for (const [seq, e] of rows) {
      buf += `id: ${seq}\ndata: ${e}\n\n`;
      frames++;
      if (buf.length >= CHUNK) {
        const ok = res.write(buf);
        buf = "";
        if (!ok) await drained(res);
      }
    }
  }
  res.end(buf);
  return frames;
}
