import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { ThreadlineError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { PrincipalAccess } from "./access.js";
import type { JoinTokens, Principal } from "./join-token.js";
import type { ActivityChannel, RunActivity } from "./run-activity.js";
import { CLIENT_HEARTBEAT_MS, JOIN_TOKEN_PARAM, PHX, TOPIC_PREFIX } from "./wire.js";

type Frame = [string | null, string | null, string, string, unknown];

/** A socket that sent nothing (not even a heartbeat) for this long is gone. */
const IDLE_MS = 2 * CLIENT_HEARTBEAT_MS + 5_000;
/** A client this far behind on reading is cut off (it reconnects, and the join re-announces). */
const MAX_BUFFERED_BYTES = 1 << 20;

function parseFrame(data: string): Frame | null {
  try {
    const f = JSON.parse(data) as unknown;
    if (!Array.isArray(f) || f.length !== 5) return null;
    const [joinRef, ref, topic, event] = f;
    const ok = (v: unknown) => v === null || typeof v === "string";
    if (!ok(joinRef) || !ok(ref) || typeof topic !== "string" || typeof event !== "string") {
      return null;
    }
    return f as Frame;
  } catch {
    return null;
  }
}

function reject(socket: Duplex, status: number, message: string): void {
  const reason = status === 401 ? "Unauthorized" : status === 403 ? "Forbidden" : "Bad Request";
  const body = JSON.stringify({ error: { code: reason.toUpperCase().replace(" ", "_"), message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** One accepted websocket, as its owner sees it (the declarations name no `ws` type). */
export interface SocketConnection {
  terminate(): void;
}

/**
 * The run-activity websocket: the Phoenix channel protocol (V2 JSON frames) that CopilotKit's
 * thread store speaks, on the `ws` package. A connection presents its join token in the URL;
 * it may join exactly its principal's topic `user_meta:<code>`; heartbeats are answered. What it
 * receives comes from `RunActivity`.
 */
export class PhoenixSocketServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly connections = new Set<PhoenixConnection>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly deps: {
      tokens: JoinTokens;
      access: PrincipalAccess;
      activity: RunActivity;
      logger: Logger;
      /** Whether an upgrade request's pathname is this socket's endpoint. */
      matches(pathname: string): boolean;
      /**
       * Whether a browser page of `origin` may open the socket (browsers apply no CORS to
       * websockets, so the server checks the `Origin` itself, as it does for the API).
       */
      allowsOrigin(origin: string | undefined, host: string | undefined): boolean;
    },
  ) {
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of this.connections) if (now - c.lastSeen > IDLE_MS) c.terminate();
    }, CLIENT_HEARTBEAT_MS);
    this.sweeper.unref();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Handles the websocket upgrades of `server` that are this socket's; leaves others alone. The
   * returned function detaches and ends the connections that came through `server` (a server's
   * `close()` waits for upgraded sockets, so they must go first).
   */
  attach(server: Server): () => void {
    const mine = new Set<SocketConnection>();
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleUpgrade(req, socket, head, mine);
    };
    server.on("upgrade", onUpgrade);
    return () => {
      server.off("upgrade", onUpgrade);
      for (const c of mine) c.terminate();
      mine.clear();
    };
  }

  /** True when the request was this socket's (answered or refused), false to let others have it. */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    owner?: Set<SocketConnection>,
  ): boolean {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!this.deps.matches(url.pathname)) return false;
    socket.on("error", () => socket.destroy());
    if (!this.deps.allowsOrigin(req.headers.origin, req.headers.host)) {
      reject(
        socket,
        403,
        `the web page at '${req.headers.origin}' may not open this socket (cors)`,
      );
      return true;
    }
    const token = url.searchParams.get(JOIN_TOKEN_PARAM);
    if (!token) {
      reject(socket, 401, `missing ${JOIN_TOKEN_PARAM} (POST <runtimeUrl>/threads/subscribe)`);
      return true;
    }
    this.deps.tokens.verify(token).then(
      async (principal) => {
        if (!(await this.deps.access.admits(principal))) {
          reject(socket, 401, "the join token's credentials are no longer accepted");
          return;
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, principal, owner));
      },
      (error) => {
        const message = ThreadlineError.is(error) ? error.message : "invalid join token";
        reject(socket, 401, message);
      },
    );
    return true;
  }

  private accept(ws: WebSocket, principal: Principal, owner?: Set<SocketConnection>): void {
    const conn = new PhoenixConnection(ws, principal, this.deps.activity, this.deps.logger);
    this.connections.add(conn);
    owner?.add(conn);
    ws.on("close", () => {
      this.connections.delete(conn);
      owner?.delete(conn);
      conn.closed();
    });
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const c of this.connections) c.terminate();
    this.connections.clear();
    this.wss.close();
  }
}

/** @internal Module-private; kept out of the declarations so they need no `ws` types. */
class PhoenixConnection implements SocketConnection {
  lastSeen = Date.now();
  /** topic → the channel joined on it (its join_ref tags every push). */
  private readonly joined = new Map<string, ActivityChannel & { joinRef: string | null }>();

  constructor(
    private readonly ws: WebSocket,
    private readonly principal: Principal,
    private readonly activity: RunActivity,
    private readonly logger: Logger,
  ) {
    ws.on("message", (data, isBinary) => {
      this.lastSeen = Date.now();
      if (isBinary) return; // CopilotKit never sends binary frames; nothing to do with them
      const frame = parseFrame(data.toString());
      if (!frame) {
        ws.close(1003, "expected a Phoenix V2 JSON frame");
        return;
      }
      this.handle(frame);
    });
    ws.on("error", (error) => this.logger.debug({ err: error }, "run-activity socket error"));
  }

  private send(frame: Frame): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.terminate();
      return;
    }
    this.ws.send(JSON.stringify(frame));
  }

  private reply(frame: Frame, status: "ok" | "error", response: Record<string, unknown> = {}) {
    const [joinRef, ref, topic] = frame;
    this.send([joinRef, ref, topic, PHX.reply, { status, response }]);
  }

  private handle(frame: Frame): void {
    const [joinRef, , topic, event] = frame;
    if (topic === PHX.systemTopic && event === PHX.heartbeat) {
      this.reply(frame, "ok");
      return;
    }
    if (event === PHX.join) {
      if (!topic.startsWith(TOPIC_PREFIX)) {
        this.reply(frame, "error", { reason: "unmatched topic" });
        return;
      }
      if (topic.slice(TOPIC_PREFIX.length) !== this.principal.code) {
        // Another principal's channel: the token does not open it.
        this.reply(frame, "error", { reason: "unauthorized" });
        return;
      }
      this.leave(topic);
      const channel = {
        joinRef,
        principal: this.principal,
        push: (name: string, payload: unknown) =>
          this.send([channel.joinRef, null, topic, name, payload]),
      };
      this.joined.set(topic, channel);
      this.reply(frame, "ok");
      this.activity.join(channel).catch((error) => {
        this.logger.warn({ err: error }, "announcing active runs to a joined channel failed");
      });
      return;
    }
    if (event === PHX.leave) {
      this.leave(topic);
      this.reply(frame, "ok");
      return;
    }
    // Clients only listen on this channel; anything else they push is not understood.
    this.reply(
      frame,
      "error",
      this.joined.has(topic) ? { reason: "unknown event" } : { reason: "unmatched topic" },
    );
  }

  private leave(topic: string): void {
    const channel = this.joined.get(topic);
    if (!channel) return;
    this.joined.delete(topic);
    this.activity.leave(channel);
  }

  closed(): void {
    for (const topic of [...this.joined.keys()]) this.leave(topic);
  }

  terminate(): void {
    this.ws.terminate();
  }
}
