import type { BaseEvent } from "@ag-ui/core";
import { EventEncoder } from "@ag-ui/encoder";
import type { FollowItem, FollowItemKind, LogBatch } from "../core/follow-item.js";
import { SSE_EVENT_ABORT, SSE_EVENT_REOPEN, SSE_EVENT_SNAPSHOT } from "../protocol.js";

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
  return utf8.encode(frameText(event, opts.id, opts.name));
}

function frameText(event: BaseEvent, id: number | undefined, name: string | undefined): string {
  let head = "";
  if (name) head += `event: ${name}\n`;
  if (id !== undefined) head += `id: ${id}\n`;
  return head + encoder.encodeSSE(event);
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

/** A batch's frames as one chunk, and where each item's frame starts in it (made on demand). */
interface EncodedBatch {
  chunk: Uint8Array;
  /** `offsets[i]`..`offsets[i + 1]`: the frame of `items[i]`; until a follower takes a part. */
  offsets?: number[];
}

/**
 * Encode once, write many: a log batch (live, or a replay page) becomes its bytes once,
 * whichever follower asks first, and every follower writes (a view into) the same chunk. Keyed
 * by the batch object, so the bytes go when the last follower let go of the batch.
 */
const encoded = new WeakMap<LogBatch, EncodedBatch>();

function encodeBatch(batch: LogBatch): EncodedBatch {
  let e = encoded.get(batch);
  if (!e) {
    // One string, one UTF-8 encoding: no per-frame buffers to copy together afterwards.
    let text = "";
    for (const item of batch.items) text += logFrameText(item);
    e = { chunk: utf8.encode(text) };
    encoded.set(batch, e);
  }
  return e;
}

/**
 * A log event's frame. An event read as stored text goes into its `data:` line as is: that
 * text is what `JSON.stringify` of the event gives (it was made so at append), so a replayed
 * frame is byte for byte the frame the live path makes from the parsed event.
 */
function logFrameText(item: FollowItem): string {
  return item.json === undefined
    ? frameText(item.event, item.seq, undefined)
    : `id: ${item.seq}\ndata: ${item.json}\n\n`;
}

/**
 * Where each frame of a batch's chunk starts: every frame ends with a blank line ("\n\n") and
 * holds no other (JSON text has no raw line break), so the ends are found in the bytes. Only a
 * follower taking part of a batch needs them (its first live batch after a replay).
 */
function offsetsOf(e: EncodedBatch, frames: number): number[] {
  if (e.offsets) return e.offsets;
  const bytes = Buffer.from(e.chunk.buffer, e.chunk.byteOffset, e.chunk.byteLength);
  const offsets = [0];
  for (let at = 0, i = 0; i < frames; i++) {
    at = bytes.indexOf(BLANK_LINE, at) + 2;
    offsets.push(at);
  }
  e.offsets = offsets;
  return offsets;
}
const BLANK_LINE = Buffer.from("\n\n");

/** A batch's weight in a follower's queue: the bytes the follower would write (`weigh`). */
export function batchBytes(batch: LogBatch): number {
  return encodeBatch(batch).chunk.byteLength;
}

function frameName(kind: FollowItemKind): string | undefined {
  return kind === "snapshot"
    ? SSE_EVENT_SNAPSHOT
    : kind === "reopen"
      ? SSE_EVENT_REOPEN
      : kind === "abort"
        ? SSE_EVENT_ABORT
        : undefined;
}

/** The frame of an item outside a batch (synthetic items: snapshot, reopen, abort, ending). */
function itemFrame(item: FollowItem): Uint8Array {
  const id = item.kind === "event" || item.marksCursor ? item.seq : undefined;
  return encodeFrame(item.event, {
    ...(id === undefined ? {} : { id }),
    name: frameName(item.kind),
  });
}

/**
 * The frames to write for consecutive follow items: each run of items of one batch is one view
 * into that batch's shared chunk (the whole chunk when the follower takes the whole batch).
 */
export function framesOf(items: readonly FollowItem[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < items.length; ) {
    const item = items[i]!;
    const batch = item.batch;
    const start = batch ? item.seq - batch.first : -1;
    if (!batch || batch.items[start] !== item) {
      frames.push(itemFrame(item));
      i++;
      continue;
    }
    let end = start + 1;
    let j = i + 1;
    while (j < items.length && batch.items[end] === items[j]) {
      end++;
      j++;
    }
    const e = encodeBatch(batch);
    if (start === 0 && end === batch.items.length) {
      frames.push(e.chunk);
    } else {
      const offsets = offsetsOf(e, batch.items.length);
      frames.push(e.chunk.subarray(offsets[start]!, offsets[end]!));
    }
    i = j;
  }
  return frames;
}

/** The bytes of consecutive follow items, as one chunk (one write for a burst). */
export function chunkOf(items: readonly FollowItem[]): Uint8Array {
  return concatFrames(framesOf(items));
}
