/**
 * A small streaming parser for Server-Sent Events (the WHATWG "event stream" format).
 *
 * Why not `@ag-ui/client`'s `parseSSEStream`: it reads only `data:` lines and drops `id:` and
 * `event:`, and a follower needs exactly those — the `id:` is the resume cursor and the `event:`
 * name tells synthetic `snapshot`/`reopen` frames from log events. Encoding stays with
 * `@ag-ui/encoder` on the server; this file only reads.
 *
 * Browser-safe: TextDecoder and ReadableStream only.
 */

export interface SseFrame {
  /** The `id:` field of this frame, when it had one. */
  id?: string;
  /** The `event:` field, when it had one. */
  event?: string;
  /** The `data:` lines joined with "\n"; absent when the frame had no data line. */
  data?: string;
  /** True when the block held only comment lines (e.g. `: keepalive`). */
  comment?: boolean;
  /** Such a block's last comment, without the leading ':' and one space (e.g. `keepalive`). */
  commentText?: string;
}

/**
 * Incremental parser: feed decoded text in any chunking, get complete frames back.
 * Lines may end in LF, CRLF or CR (a CR at the end of a chunk waits for the next one).
 */
export class SseParser {
  private buffer = "";
  private id: string | undefined;
  private event: string | undefined;
  private data: string[] | undefined;
  private sawComment = false;
  private commentText = "";

  push(text: string): SseFrame[] {
    this.buffer += text;
    const frames: SseFrame[] = [];
    let start = 0;
    for (;;) {
      const lf = this.buffer.indexOf("\n", start);
      const cr = this.buffer.indexOf("\r", start);
      let end: number;
      let next: number;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        // A lone CR at the very end might be the first half of CRLF: wait for more input.
        if (cr === this.buffer.length - 1) break;
        end = cr;
        next = this.buffer[cr + 1] === "\n" ? cr + 2 : cr + 1;
      } else if (lf >= 0) {
        end = lf;
        next = lf + 1;
      } else {
        break;
      }
      const frame = this.line(this.buffer.slice(start, end));
      if (frame) frames.push(frame);
      start = next;
    }
    this.buffer = this.buffer.slice(start);
    return frames;
  }

  /** End of input: a trailing unterminated block is discarded, as the SSE spec says. */
  end(): SseFrame[] {
    const frames = this.buffer.endsWith("\r") ? this.push("\n") : [];
    this.buffer = "";
    this.reset();
    return frames;
  }

  private line(line: string): SseFrame | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) {
      this.sawComment = true;
      this.commentText = line.startsWith(": ") ? line.slice(2) : line.slice(1);
      return undefined;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        if (this.data) this.data.push(value);
        else this.data = [value];
        break;
      case "event":
        this.event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.id = value;
        break;
      // `retry` and unknown fields are ignored: reconnection timing is ours to decide.
    }
    return undefined;
  }

  private dispatch(): SseFrame | undefined {
    let frame: SseFrame | undefined;
    if (this.data || this.id !== undefined || this.event !== undefined) {
      frame = {};
      if (this.id !== undefined) frame.id = this.id;
      if (this.event !== undefined) frame.event = this.event;
      if (this.data) frame.data = this.data.join("\n");
    } else if (this.sawComment) {
      frame = { comment: true, commentText: this.commentText };
    }
    this.reset();
    return frame;
  }

  private reset(): void {
    this.id = undefined;
    this.event = undefined;
    this.data = undefined;
    this.sawComment = false;
    this.commentText = "";
  }
}

/**
 * Reads SSE frames from a byte stream (UTF-8, split anywhere). Cancels the body when left, or
 * when `signal` aborts (not every fetch implementation ends the body on abort by itself).
 */
export async function* readSseFrames(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let finished = false;
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", cancel, { once: true });
  if (signal?.aborted) cancel();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        yield* parser.push(decoder.decode());
        yield* parser.end();
        return;
      }
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
