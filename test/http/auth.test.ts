import { afterEach, describe, expect, it } from "vitest";
import { parseServeArgs } from "../../src/cli/args.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import type { AuthorizeContext } from "../../src/http/auth.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";

let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 50 });
  tl = undefined;
});

describe("access control", () => {
  it("with a token, every route but /healthz and /readyz needs the bearer token", async () => {
    tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      token: "s3cret",
      cors: ["http://example.test"],
    });
    expect((await tl.app.request("/healthz")).status).toBe(200);
    expect((await tl.app.request("/readyz")).status).toBe(200);
    for (const [method, path] of [
      ["GET", "/threads"],
      ["POST", "/threads"],
      ["GET", "/threads/x/events"],
      ["POST", "/threads/x/runs"],
      ["GET", "/info"],
      ["POST", "/agent/demo/run"],
      ["POST", "/"],
    ] as const) {
      const res = await tl.app.request(path, {
        method,
        body: method === "POST" ? "{}" : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
    }
    const wrong = await tl.app.request("/threads", { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const ok = await tl.app.request("/threads", { headers: { authorization: "Bearer s3cret" } });
    expect(ok.status).toBe(200);
    // EventSource cannot set headers: the token may come as ?access_token=.
    const created = await tl.app.request("/threads", {
      method: "POST",
      headers: { authorization: "Bearer s3cret" },
      body: JSON.stringify({ threadId: "t" }),
    });
    expect(created.status).toBe(201);
    const sse = await tl.app.request("/threads/t/events?follow=false&access_token=s3cret");
    expect(sse.status).toBe(200);
    await sse.body?.cancel();
    // CORS preflight (from an allowed origin) is answered without a token.
    const preflight = await tl.app.request("/threads", {
      method: "OPTIONS",
      headers: { origin: "http://example.test", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
  });

  it("the authorize hook sees the thread and the action, and can refuse with 403", async () => {
    const seen: AuthorizeContext[] = [];
    tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      authorize: (request, ctx) => {
        seen.push(ctx);
        return request.headers.get("x-user") === "alice" || ctx.action === "read";
      },
    });
    const denied = await tl.app.request("/threads/t/runs", {
      method: "POST",
      body: JSON.stringify({ agentId: "demo" }),
    });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");
    const allowed = await tl.app.request("/threads/t/runs", {
      method: "POST",
      headers: { "x-user": "alice" },
      body: JSON.stringify({ agentId: "demo", forwardedProps: { demo: { delayMs: 0 } } }),
    });
    expect(allowed.status).toBe(202);
    expect(seen).toContainEqual(expect.objectContaining({ threadId: "t", action: "write" }));
  });

  it("the CLI refuses a non-loopback host without a token unless --insecure", () => {
    expect(() => parseServeArgs(["--host", "0.0.0.0"], {})).toThrow(
      /refusing to bind 0\.0\.0\.0 without a token/,
    );
    expect(parseServeArgs(["--host", "0.0.0.0", "--token", "t"], {}).host).toBe("0.0.0.0");
    expect(parseServeArgs(["--host", "0.0.0.0"], { THREADLINE_TOKEN: "t" }).token).toBe("t");
    expect(parseServeArgs(["--host", "0.0.0.0", "--insecure"], {}).insecure).toBe(true);
    expect(parseServeArgs([], { PORT: "9000", THREADLINE_STORE: "memory:" })).toMatchObject({
      port: 9000,
      store: "memory:",
      host: "127.0.0.1",
    });
    expect(() => parseServeArgs(["--port", "nope"], {})).toThrow(/--port/);
  });
});
