import WebSocket from "ws";

export type Frame = [string | null, string | null, string, string, Record<string, unknown>];

/**
 * A raw Phoenix V2 JSON client over `ws`, for protocol-level tests of the run-activity socket:
 * every frame it receives is kept, and `next()` waits (with a deadline) for one that matches.
 */
export class RawPhoenix {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  private ref = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on("close", () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Opens `<wsUrl>/websocket?join_token=…&vsn=2.0.0`, as the Phoenix client does. */
  static open(wsUrl: string, token: string): Promise<RawPhoenix> {
    const url = `${wsUrl}/websocket?join_token=${encodeURIComponent(token)}&vsn=2.0.0`;
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new RawPhoenix(ws)));
      ws.once("unexpected-response", (_req, res) =>
        reject(
          Object.assign(new Error(`upgrade refused: ${res.statusCode}`), {
            status: res.statusCode,
          }),
        ),
      );
      ws.once("error", reject);
    });
  }

  send(joinRef: string | null, topic: string, event: string, payload: unknown = {}): string {
    const ref = String(++this.ref);
    this.ws.send(JSON.stringify([joinRef, ref, topic, event, payload]));
    return ref;
  }

  /** Joins a topic and returns the reply's status. */
  async join(topic: string): Promise<{ joinRef: string; status: string; response: unknown }> {
    const joinRef = String(this.ref + 1);
    const ref = this.send(joinRef, topic, "phx_join");
    const reply = await this.next((f) => f[1] === ref && f[3] === "phx_reply");
    return { joinRef, status: String(reply[4].status), response: reply[4].response };
  }

  /** Waits for a frame (received so far or later) matching `match`. */
  async next(match: (f: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error("socket closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a frame");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Frames of `event` received so far. */
  events(event: string): Record<string, unknown>[] {
    return this.frames.filter((f) => f[3] === event).map((f) => f[4]);
  }

  close(): void {
    this.ws.close();
  }
}
