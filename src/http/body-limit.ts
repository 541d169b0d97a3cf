import type { MiddlewareHandler } from "hono";
import { ThreadlineError } from "../core/errors.js";

/** Past this many bytes an oversized upload is cut off instead of drained. */
const DRAIN_CAP = 32 << 20;

async function discard(body: ReadableStream<Uint8Array>, cap: number): Promise<void> {
  const reader = body.getReader();
  let seen = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.byteLength;
      if (seen > cap) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The client went away: nothing to drain.
  }
}

/**
 * Rejects bodies over `max` bytes with 413 PAYLOAD_TOO_LARGE. Unlike answering at once, it first
 * drains the upload (up to a cap): an HTTP client still sending its body would otherwise see the
 * connection reset instead of the JSON error.
 */
export function limitBody(max: number): MiddlewareHandler {
  const tooLarge = () =>
    new ThreadlineError("PAYLOAD_TOO_LARGE", `request body exceeds the limit of ${max} bytes`);
  return async (c, next) => {
    // Bodiless requests (every follower's GET) must not touch `.body`: under @hono/node-server
    // that materialises a full web Request for the connection's lifetime.
    if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS") {
      return next();
    }
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = c.req.header("content-length");
    if (declared !== undefined && Number(declared) > max) {
      await discard(body, DRAIN_CAP);
      throw tooLarge();
    }
    if (declared !== undefined) return next();
    // No length declared (chunked): buffer up to the limit.
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        reader.releaseLock();
        await discard(body, DRAIN_CAP);
        throw tooLarge();
      }
      chunks.push(value);
    }
    c.req.raw = new Request(c.req.raw, {
      body: new Blob(chunks as BlobPart[]),
      duplex: "half",
    } as RequestInit);
    return next();
  };
}
