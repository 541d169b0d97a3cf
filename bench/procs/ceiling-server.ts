/**
 * The ceiling: a minimal `node:http` server that writes pre-encoded SSE frames (the same frames
 * Threadline sends) to every connected socket, batching its writes and respecting each
 * socket's backpressure. Nothing is stored, nothing is parsed: no real runtime can beat it.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import { SSE_HEADERS } from "../../src/http/sse.js";
import { encodeFrame } from "../../src/http/sse-frames.js";
import { serveRpc } from "../lib/children.js";
import { pace } from "../lib/pacer.js";
import {
  now,
  runFinished,
  runStarted,
  scriptedRun,
  textContent,
  textEnd,
  textStart,
} from "../lib/script.js";

const clients = new Set<http.ServerResponse>();

/**
 * A run id shaped like Threadline's (a UUID): the scripted agent names its message after the
 * run, so the frames are the same size on both sides and the load generator, which scans every
 * byte, does the same work for each.
 */
const sameShapeRunId = () => randomUUID();
const CHUNK = 64 * 1024;

const server = http.createServer((req, res) => {
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  clients.add(res);
  req.on("close", () => clients.delete(res));
});

/** Writes the chunks to one socket as fast as it takes them. */
function pump(res: http.ServerResponse, chunks: readonly Uint8Array[]): void {
  let i = 0;
  const more = () => {
    while (i < chunks.length) {
      if (!res.write(chunks[i++]!)) {
        res.once("drain", more);
        return;
      }
    }
  };
  more();
}

function chunked(frames: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let batch: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    if (batch.length > 0) out.push(Buffer.concat(batch));
    batch = [];
    size = 0;
  };
  for (const f of frames) {
    batch.push(f);
    size += f.byteLength;
    if (size >= CHUNK) flush();
  }
  flush();
  return out;
}

serveRpc({
  start: () =>
    new Promise((resolve) => {
      server.listen(0, "127.0.0.1", () => {
        const addr = server.address() as { port: number };
        resolve({ url: `http://127.0.0.1:${addr.port}`, pid: process.pid });
      });
    }),
  followers: () => clients.size,
  /** A run of `events` frames, encoded before the clock starts, written to every socket. */
  burst(a: { threadId: string; events: number }) {
    const events = scriptedRun(a.threadId, sameShapeRunId(), a.events);
    const chunks = chunked(events.map((e, i) => encodeFrame(e, { id: i + 1 })));
    const t0 = now();
    for (const res of clients) pump(res, chunks);
    return { t0 };
  },
  /** The paced run: each timer tick encodes the events that came due once, writes them to all. */
  paced(a: { threadId: string; events: number; rate: number }) {
    const t0 = now();
    const runId = sameShapeRunId();
    const messageId = `msg-${runId}`;
    let seq = 0;
    const frame = (e: Parameters<typeof encodeFrame>[0]) => encodeFrame(e, { id: ++seq });
    const send = (buf: Uint8Array) => {
      for (const res of clients) res.write(buf);
    };
    send(Buffer.concat([frame(runStarted(a.threadId, runId)), frame(textStart(messageId))]));
    let pending: Uint8Array[] = [];
    let scheduled = false;
    pace(
      a.rate,
      a.events - 4,
      (i, ts) => {
        pending.push(frame(textContent(messageId, i, ts)));
        if (!scheduled) {
          scheduled = true;
          // Everything due in this tick goes out as one write per socket.
          queueMicrotask(() => {
            scheduled = false;
            send(Buffer.concat(pending));
            pending = [];
          });
        }
      },
      () =>
        queueMicrotask(() =>
          send(Buffer.concat([frame(textEnd(messageId)), frame(runFinished(a.threadId, runId))])),
        ),
    );
    return { t0 };
  },
  heapSnapshot: async (a: { file: string }) => {
    globalThis.gc?.();
    const { writeHeapSnapshot } = await import("node:v8");
    return writeHeapSnapshot(a.file);
  },
  gc: () => {
    globalThis.gc?.();
    return process.memoryUsage();
  },
});
