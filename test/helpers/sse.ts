import type { BaseEvent } from "@ag-ui/core";

export interface Frame {
  id?: string;
  event?: string;
  data?: BaseEvent;
  comment?: string;
}

/** Reads SSE frames from a response body (test-side parser, deliberately independent of ours). */
export async function* readFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<Frame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let idx = buffer.indexOf("\n\n");
      while (idx >= 0) {
        const raw = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        const frame: Frame = {};
        const data: string[] = [];
        for (const line of raw.split("\n")) {
          if (line.startsWith(":")) frame.comment = line.slice(1).trim();
          else if (line.startsWith("id:")) frame.id = line.slice(3).trim();
          else if (line.startsWith("event:")) frame.event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length > 0) frame.data = JSON.parse(data.join("\n")) as BaseEvent;
        yield frame;
        idx = buffer.indexOf("\n\n");
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Collects frames until `until` says stop (or the stream ends), with a deadline. */
export async function collectFrames(
  body: ReadableStream<Uint8Array>,
  until: (frames: Frame[]) => boolean,
  timeoutMs = 10_000,
): Promise<Frame[]> {
  const frames: Frame[] = [];
  const it = readFrames(body);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms with ${frames.length} frames`);
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      it.next(),
      new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), left);
      }),
    ]);
    clearTimeout(timer);
    if (next === "timeout") {
      await it.return(undefined);
      throw new Error(
        `timed out after ${timeoutMs} ms with ${frames.length} frames: ${JSON.stringify(frames.map((f) => f.data?.type))}`,
      );
    }
    if (next.done) return frames;
    frames.push(next.value);
    if (until(frames)) {
      await it.return(undefined);
      return frames;
    }
  }
}

export const eventsOf = (frames: Frame[]): BaseEvent[] =>
  frames.filter((f) => f.data).map((f) => f.data as BaseEvent);

export const countType = (frames: Frame[], type: string): number =>
  frames.filter((f) => f.data?.type === type).length;

/** A reader that can be asked for frames several times on one open stream. */
export class FrameReader {
  readonly frames: Frame[] = [];
  private readonly it: AsyncGenerator<Frame>;
  private ended = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.it = readFrames(body);
  }

  /** Reads until `until(newFrames)` holds; returns the frames read by this call. */
  async until(until: (frames: Frame[]) => boolean, timeoutMs = 10_000): Promise<Frame[]> {
    const got: Frame[] = [];
    const deadline = Date.now() + timeoutMs;
    while (!until(got)) {
      if (this.ended) return got;
      let timer: NodeJS.Timeout | undefined;
      const next = await Promise.race([
        this.it.next(),
        new Promise<"timeout">((r) => {
          timer = setTimeout(() => r("timeout"), Math.max(1, deadline - Date.now()));
        }),
      ]);
      clearTimeout(timer);
      if (next === "timeout") {
        throw new Error(
          `timed out with ${got.length} frames: ${JSON.stringify(got.map((f) => f.data?.type))}`,
        );
      }
      if (next.done) {
        this.ended = true;
        return got;
      }
      got.push(next.value);
      this.frames.push(next.value);
    }
    return got;
  }

  async close(): Promise<void> {
    await this.it.return(undefined);
  }
}
