/**
 * The load generator: many SSE followers over raw `node:http` (no fetch, no parser beyond
 * finding frame boundaries), in its own process. It counts frames per connection, notes when
 * each connection has received what it was told to expect, and — for the latency probe —
 * reads the producer's `"timestamp":` out of each frame and records receipt minus timestamp.
 */
import http from "node:http";
import { serveRpc } from "../lib/children.js";
import { now } from "../lib/script.js";
import { Histogram } from "../lib/stats.js";

const BOUNDARY = Buffer.from("\n\n");
const TS = Buffer.from('"timestamp":');
const COLON = 0x3a;
const NL = 0x0a;

class Conn {
  req: http.ClientRequest | undefined;
  res: http.IncomingMessage | undefined;
  frames = 0;
  doneAt = 0;
  lastAt = 0;
  carry: Buffer | null = null;
  closed = false;
  /** Whether this connection records latencies (a spread-out sample keeps the generator light). */
  sample = false;

  constructor(private readonly gen: Generator) {}

  onData(chunk: Buffer): void {
    const t = now();
    let start = 0;
    if (this.carry) {
      const carry = this.carry;
      let end: number;
      let skip: number;
      if (carry[carry.length - 1] === NL && chunk[0] === NL) {
        end = 0;
        skip = 1;
      } else {
        end = chunk.indexOf(BOUNDARY);
        skip = 2;
      }
      if (end < 0) {
        this.carry = Buffer.concat([carry, chunk]);
        return;
      }
      const frame = Buffer.concat([carry, chunk.subarray(0, end)]);
      this.carry = null;
      this.frame(frame, 0, frame.length, t);
      start = end + skip;
    }
    for (;;) {
      const i = chunk.indexOf(BOUNDARY, start);
      if (i < 0) break;
      this.frame(chunk, start, i, t);
      start = i + 2;
    }
    this.carry = start < chunk.length ? chunk.subarray(start) : null;
  }

  private frame(buf: Buffer, s: number, e: number, t: number): void {
    if (buf[s] === COLON) return; // an SSE comment (keep-alive), not an event
    this.frames++;
    this.lastAt = t;
    const g = this.gen;
    if (g.latency && this.sample) {
      const i = buf.indexOf(TS, s);
      if (i >= 0 && i < e) {
        const ts = Number.parseFloat(buf.toString("latin1", i + TS.length, Math.min(e, i + 40)));
        if (ts >= g.armedAt) g.hist.add(t - ts);
      }
    }
    if (g.attach && g.attach.firstLiveAt === 0) {
      const i = buf.indexOf(TS, s);
      if (i >= 0 && i < e) {
        const ts = Number.parseFloat(buf.toString("latin1", i + TS.length, Math.min(e, i + 40)));
        if (ts >= g.attach.t0) {
          g.attach.firstLiveAt = t;
          g.attach.resolve();
        }
      }
    }
    if (this.frames === g.expect) {
      this.doneAt = t;
      g.onConnDone();
    }
  }
}

interface AttachProbe {
  t0: number;
  headersAt: number;
  firstLiveAt: number;
  resolve: () => void;
}

class Generator {
  conns: Conn[] = [];
  expect = Number.POSITIVE_INFINITY;
  latency = false;
  armedAt = 0;
  hist = new Histogram();
  done = 0;
  attach: AttachProbe | undefined;
  private waiter: (() => void) | undefined;

  onConnDone(): void {
    this.done++;
    if (this.done >= this.conns.length) this.waiter?.();
  }

  /** Opens `count` follow connections, at most `concurrency` handshakes at a time. */
  async connect(a: { url: string; path: string; count: number; concurrency?: number }) {
    const u = new URL(a.url);
    const started = now();
    const errors: string[] = [];
    let next = 0;
    const one = () =>
      new Promise<void>((resolve) => {
        const conn = new Conn(this);
        const req = http.request(
          {
            host: u.hostname,
            port: u.port,
            path: a.path,
            method: "GET",
            agent: false,
            headers: { accept: "text/event-stream" },
          },
          (res) => {
            conn.res = res;
            if (res.statusCode !== 200) {
              errors.push(`HTTP ${res.statusCode}`);
              res.resume();
              resolve();
              return;
            }
            this.conns.push(conn);
            res.on("data", (c: Buffer) => conn.onData(c));
            res.on("close", () => {
              conn.closed = true;
            });
            resolve();
          },
        );
        conn.req = req;
        req.on("error", (e) => {
          if (!conn.res) {
            errors.push(e.message);
            resolve();
          }
        });
        req.end();
      });
    const workers = Array.from({ length: Math.min(a.count, a.concurrency ?? 200) }, async () => {
      while (next < a.count) {
        next++;
        await one();
      }
    });
    await Promise.all(workers);
    return {
      connected: this.conns.length,
      failed: errors.length,
      errors: [...new Set(errors)].slice(0, 3),
      ms: now() - started,
    };
  }

  /**
   * Resets counters: from now on each connection should receive `expect` frames. With
   * `latency`, up to `latencySample` connections, evenly spread, record receipt − timestamp.
   */
  arm(a: { expect: number; latency?: boolean; latencySample?: number }) {
    this.expect = a.expect;
    this.latency = a.latency ?? false;
    this.armedAt = now();
    this.hist = new Histogram();
    this.done = 0;
    const every = Math.max(1, Math.floor(this.conns.length / (a.latencySample ?? 100)));
    for (const [i, c] of this.conns.entries()) {
      c.frames = 0;
      c.doneAt = 0;
      c.sample = i % every === 0;
    }
    return { sampled: this.conns.filter((c) => c.sample).length };
  }

  /** Waits until every connection got its frames (or the timeout), then reports. */
  async wait(a: { timeoutMs: number }) {
    if (this.done < this.conns.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, a.timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    let frames = 0;
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    let lastFrameAt = 0;
    let closed = 0;
    for (const c of this.conns) {
      frames += c.frames;
      if (c.doneAt) {
        first = Math.min(first, c.doneAt);
        last = Math.max(last, c.doneAt);
      }
      lastFrameAt = Math.max(lastFrameAt, c.lastAt);
      if (c.closed) closed++;
    }
    const h = this.hist;
    return {
      connections: this.conns.length,
      complete: this.done,
      closed,
      frames,
      firstDoneAt: first,
      lastDoneAt: last,
      lastFrameAt,
      latency: this.latency
        ? {
            count: h.count,
            p50: h.percentile(50),
            p99: h.percentile(99),
            max: h.max,
            negative: h.negative,
          }
        : undefined,
    };
  }

  async closeAll() {
    const all = this.conns;
    this.conns = [];
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.closed || !c.res) {
              c.req?.destroy();
              resolve();
              return;
            }
            c.res.once("close", () => resolve());
            c.req?.destroy();
          }),
      ),
    );
    return all.length;
  }

  /**
   * One attach: request at t0, report when the headers came and when the first live event
   * (a frame whose producer timestamp is at or after t0) arrived. Closes the connection.
   */
  async attachOnce(a: { url: string; path: string; timeoutMs: number }) {
    await this.closeAll();
    const u = new URL(a.url);
    this.expect = Number.POSITIVE_INFINITY;
    this.latency = false;
    const conn = new Conn(this);
    let bytes = 0;
    const probe: AttachProbe = { t0: now(), headersAt: 0, firstLiveAt: 0, resolve: () => {} };
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve, reject) => {
      probe.resolve = resolve;
      timer = setTimeout(
        () => reject(new Error(`no live event within ${a.timeoutMs} ms`)),
        a.timeoutMs,
      );
      const req = http.request(
        { host: u.hostname, port: u.port, path: a.path, agent: false },
        (res) => {
          probe.headersAt = now();
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
          conn.res = res;
          res.on("data", (c: Buffer) => {
            bytes += c.length;
            conn.onData(c);
          });
        },
      );
      conn.req = req;
      req.on("error", reject);
      req.end();
    });
    this.attach = probe;
    try {
      await done;
    } finally {
      clearTimeout(timer);
      this.attach = undefined;
      conn.req?.destroy();
    }
    return {
      headersMs: probe.headersAt - probe.t0,
      firstLiveMs: probe.firstLiveAt - probe.t0,
      frames: conn.frames,
      bytes,
    };
  }
}

const gen = new Generator();
/**
 * One finite stream read to its end (a replay with `follow=false`): time to the headers and to
 * the last byte, bytes, and frames (blank-line boundaries, also across chunk edges).
 */
function drain(a: { url: string; path: string; timeoutMs: number }) {
  const u = new URL(a.url);
  const t0 = now();
  return new Promise<{
    status: number;
    headersMs: number;
    ms: number;
    bytes: number;
    frames: number;
  }>((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: a.path, agent: false },
      (res) => {
        const headersMs = now() - t0;
        let bytes = 0;
        let frames = 0;
        let lastByte = 0;
        res.on("data", (c: Buffer) => {
          bytes += c.length;
          if (lastByte === NL && c[0] === NL) frames++;
          for (let i = c.indexOf(BOUNDARY); i >= 0; i = c.indexOf(BOUNDARY, i + 2)) frames++;
          lastByte = c[c.length - 1]!;
        });
        res.on("end", () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headersMs, ms: now() - t0, bytes, frames });
        });
        res.on("error", reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${a.path}: not done within ${a.timeoutMs} ms`));
    }, a.timeoutMs);
    req.on("error", reject);
    req.end();
  });
}

serveRpc({
  drain,
  connect: (a: Parameters<Generator["connect"]>[0]) => gen.connect(a),
  arm: (a: Parameters<Generator["arm"]>[0]) => gen.arm(a),
  wait: (a: Parameters<Generator["wait"]>[0]) => gen.wait(a),
  closeAll: () => gen.closeAll(),
  attach: (a: Parameters<Generator["attachOnce"]>[0]) => gen.attachOnce(a),
});
