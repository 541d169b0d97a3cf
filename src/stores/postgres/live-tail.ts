import { createHash } from "node:crypto";
import type pg from "pg";
import type { TailSource } from "../channel-tail.js";
import { ChannelTail } from "../channel-tail.js";
import {
  clientConfig,
  type PostgresConnectionOptions,
  pgDriver,
  quoteIdent,
} from "./connection.js";

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

/** The NOTIFY channel of a schema (channel names are identifiers: at most 63 bytes). */
export function channelOf(schema: string): string {
  const name = `threadline:${schema}`;
  if (Buffer.byteLength(name) <= 63) return name;
  return `threadline:${createHash("sha1").update(schema).digest("hex").slice(0, 32)}`;
}

/**
 * Live delivery across instances through LISTEN/NOTIFY. One dedicated connection per store
 * listens on the schema's channel; every append NOTIFYs `first:last:threadId` at commit, which the
 * thread's listeners are told (the core live tail reads the records). No polling: an idle store costs one idle
 * connection. When the listening connection drops, it reconnects with backoff, LISTENs again and
 * then announces every subscribed thread's current end, so nothing committed meanwhile is lost.
 */
export class PgLiveTail extends ChannelTail {
  private client: pg.Client | undefined;
  private retryMs = RETRY_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly channel: string;
  /** `application_name` of the listening connection (visible in pg_stat_activity). */
  readonly applicationName: string;

  constructor(
    private readonly opts: PostgresConnectionOptions,
    schema: string,
    source: TailSource,
    private readonly onError: (error: unknown) => void,
  ) {
    super(source, onError);
    this.channel = channelOf(schema);
    this.applicationName = `threadline-listen:${schema}`.slice(0, 63);
  }

  get channelName(): string {
    return this.channel;
  }

  /** Opens the listening connection; the store is not live until this resolved. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new (pgDriver().Client)({
      ...clientConfig(this.opts, this.applicationName),
      application_name: this.applicationName,
      keepAlive: true,
    });
    const lost = () => this.lost(client);
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (msg) => {
      if (msg.channel === this.channel && msg.payload !== undefined) this.heard(msg.payload);
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (error) {
      this.client = undefined;
      client.removeAllListeners();
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    client.removeAllListeners();
    client.on("error", () => undefined);
    client.end().catch(() => undefined);
    this.onError(new Error("the LISTEN connection was lost; reconnecting"));
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().then(
        () => {
          this.retryMs = RETRY_FIRST_MS;
          // LISTEN is active again: what was announced while it was down is read now.
          this.reconnected();
        },
        (error) => {
          this.onError(error);
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.stopTail();
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners();
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
