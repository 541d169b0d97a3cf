import type { BaseEvent } from "@ag-ui/core";
import { EventEncoder } from "@ag-ui/encoder";

const encoder = new EventEncoder();
const utf8 = new TextEncoder();

/**
 * One SSE frame: optional `event:` and `id:` fields, then the AG-UI encoder's `data:` line(s).
 * Stock AG-UI parsers read only `data:` lines, so the extra fields are safe for them.
 */
export function encodeFrame(
  event: BaseEvent,
  opts: { id?: number; name?: string } = {},
): Uint8Array {
  let head = "";
  if (opts.name) head += `event: ${opts.name}\n`;
  if (opts.id !== undefined) head += `id: ${opts.id}\n`;
  return utf8.encode(head + encoder.encodeSSE(event));
}

export function concatFrames(frames: readonly Uint8Array[]): Uint8Array {
  if (frames.length === 1) return frames[0]!;
  let size = 0;
  for (const f of frames) size += f.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.byteLength;
  }
  return out;
}
