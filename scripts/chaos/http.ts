import { request as httpRequest } from "node:http";
import type { BaseEvent } from "@ag-ui/core";
import { readFrames } from "../../test/helpers/sse.js";

/** A JSON answer: status and parsed body (null when not JSON). */
export interface Answer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

export async function call(
  base: string,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const hasBody = init.body !== undefined;
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (hasBody ? "POST" : "GET"),
    headers: { ...(hasBody ? { "content-type": "application/json" } : {}), ...init.headers },
    ...(hasBody
      ? { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) }
      : {}),
  });
  const text = await res.text();
  let body: Answer["body"] = {};
  try {
    body = JSON.parse(text) as Answer["body"];
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}

/**
 * A request through node:http, for what fetch will not send: another `Host`, oversized request
 * lines and headers. Resolves with the status and the body's error code, if any.
 */
export function rawRequest(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; code: string | undefined }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: opts.method ?? "GET",
        headers: opts.headers,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
          } catch {
            code = undefined;
          }
          resolve({ status: res.statusCode ?? 0, code });
        });
      },
    );
    req.on("error", reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

/** The raw bytes of a thread's whole log as SSE (`replay=full`, ends after the replay). */
export async function logBytes(base: string, threadId: string): Promise<string> {
  const res = await fetch(`${base}/threads/${threadId}/events?replay=full&follow=false`);
  const text = await res.text();
  return `${res.status}\n${text}`;
}

/** A thread's log events (seq, event) from a full replay. */
export async function readLog(
  base: string,
  threadId: string,
): Promise<{ seq: number; event: BaseEvent }[]> {
  const res = await fetch(`${base}/threads/${threadId}/events?replay=full&follow=false`);
  if (res.status !== 200) throw new Error(`log of ${threadId}: HTTP ${res.status}`);
  const out: { seq: number; event: BaseEvent }[] = [];
  for await (const frame of readFrames(res.body!)) {
    if (frame.data && frame.id !== undefined)
      out.push({ seq: Number(frame.id), event: frame.data });
  }
  return out;
}

export interface RunInfo {
  runId: string;
  status: string;
  error?: { code: string; message: string };
}

export async function runsOf(base: string, threadId: string): Promise<RunInfo[]> {
  const a = await call(base, `/threads/${threadId}/runs?limit=1000`);
  if (a.status !== 200) throw new Error(`runs of ${threadId}: HTTP ${a.status}`);
  return (a.body.runs as RunInfo[]) ?? [];
}

export async function startRun(
  base: string,
  threadId: string,
  demo: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<Answer> {
  return call(base, `/threads/${threadId}/runs`, {
    body: {
      agentId: "demo",
      multitask: "enqueue",
      messages: [{ id: `m-${Math.random().toString(36).slice(2)}`, role: "user", content: "go" }],
      forwardedProps: { demo },
      ...extra,
    },
  });
}

/** Polls `check` until truthy; throws `what` after the deadline. */
export async function until<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 15_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);

/** Waits until the run ended; resolves with it. */
export function runEnded(base: string, threadId: string, runId: string, timeoutMs = 20_000) {
  return until(
    async () => {
      const a = await call(base, `/threads/${threadId}/runs/${runId}`).catch(() => undefined);
      const run = a?.status === 200 ? (a.body as unknown as RunInfo) : undefined;
      return run && TERMINAL.has(run.status) ? run : undefined;
    },
    `run ${runId} to end`,
    timeoutMs,
  );
}
