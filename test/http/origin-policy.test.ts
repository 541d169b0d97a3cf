import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { parseServeArgs } from "../../src/cli/args.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { hostName, isLoopbackHost } from "../../src/http/origin-policy.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline, type ThreadlineOptions } from "../../src/threadline.js";

const EVIL = "https://evil.example";
const APP = "https://app.example.com";
let tl: Threadline | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await tl?.close({ graceMs: 50 });
  tl = undefined;
});

function boot(opts: Partial<ThreadlineOptions> = {}): Threadline {
  tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() }, ...opts });
  return tl;
}

/** A browser's "simple" cross-origin POST: no preflight, so only the server can refuse it. */
const simplePost = (origin: string) =>
  tl!.app.request("/threads/victim/runs", {
    method: "POST",
    headers: { Origin: origin, "content-type": "text/plain" },
    body: JSON.stringify({ agentId: "demo", forwardedProps: { demo: { tokens: 1, delayMs: 0 } } }),
  });

describe("CORS by default: no foreign origin", () => {
  it("refuses a foreign page's reads, simple POSTs and preflights with 403, and starts nothing", async () => {
    boot();
    const read = await tl!.app.request("/threads", { headers: { Origin: EVIL } });
    expect(read.status).toBe(403);
    expect(read.headers.get("access-control-allow-origin")).toBeNull();
    expect(
      ((await read.json()) as { error: { code: string; message: string } }).error,
    ).toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringMatching(/--cors https:\/\/evil\.example/),
    });
    const post = await simplePost(EVIL);
    expect(post.status).toBe(403);
    const preflight = await tl!.app.request("/threads/victim/runs", {
      method: "OPTIONS",
      headers: { Origin: EVIL, "Access-Control-Request-Method": "POST" },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    for (const origin of ["null", "http://localhost.evil.example", "https://evil.example:443"]) {
      expect((await tl!.app.request("/threads", { headers: { Origin: origin } })).status).toBe(403);
    }
    expect(await tl!.store.threads.list()).toEqual([]);
  });

  it("lets the server's own pages (the inspector) and non-browser clients through", async () => {
    boot();
    const same = await simplePost("http://localhost");
    expect(same.status).toBe(202);
    expect((await tl!.app.request("/threads")).status).toBe(200);
    // Webhooks come from servers and are signed: no origin check for them.
    const hook = await tl!.app.request("/hooks/none", {
      method: "POST",
      headers: { Origin: EVIL },
    });
    expect(hook.status).toBe(404);
  });
});

describe("the cors option opens it", () => {
  it("to the listed origins only", async () => {
    boot({ cors: [APP, "http://localhost:5173/"] });
    const ok = await tl!.app.request("/threads", { headers: { Origin: APP } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
    const vite = await tl!.app.request("/threads", {
      headers: { Origin: "http://localhost:5173" },
    });
    expect(vite.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect((await simplePost(EVIL)).status).toBe(403);
    expect((await simplePost(APP)).status).toBe(202);
  });

  it("to any page with true or '*'", async () => {
    for (const cors of [true, "*"] as const) {
      boot({ cors });
      const res = await tl!.app.request("/threads", { headers: { Origin: EVIL } });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      await tl!.close({ graceMs: 10 });
      tl = undefined;
    }
  });

  it("refuses entries that are not origins, at creation and on the command line", () => {
    for (const bad of ["localhost:5173", "http://x.example/path", "ftp://x.example", "*.example"]) {
      expect(() => boot({ cors: [bad] }), bad).toThrow(/is not an origin/);
      expect(() => parseServeArgs(["--cors", bad], {}), bad).toThrow(/is not an origin/);
    }
    expect(parseServeArgs(["--cors", `${APP},http://localhost:5173`], {}).cors).toBe(
      `${APP},http://localhost:5173`,
    );
    expect(parseServeArgs([], { THREADLINE_CORS: "*" }).cors).toBe("*");
  });
});

/** A real request with a chosen Host header (fetch does not let us set it). */
function getWithHost(url: string, host: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, path: "/threads", headers: { host } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("DNS rebinding: a loopback server checks Host", () => {
  it("answers loopback names only", async () => {
    server = await boot().listen({ port: 0 });
    const port = new URL(server.url).port;
    expect(await getWithHost(server.url, `127.0.0.1:${port}`)).toBe(200);
    expect(await getWithHost(server.url, `localhost:${port}`)).toBe(200);
    expect(await getWithHost(server.url, `[::1]:${port}`)).toBe(200);
    expect(await getWithHost(server.url, `evil.example:${port}`)).toBe(403);
    expect(await getWithHost(server.url, "127.0.0.1.evil.example")).toBe(403);
  });

  it("and the names in allowedHosts; cors '*' turns the check off", async () => {
    server = await boot({ allowedHosts: ["MyApp.test"] }).listen({ port: 0 });
    expect(await getWithHost(server.url, "myapp.test:1234")).toBe(200);
    expect(await getWithHost(server.url, "other.test")).toBe(403);
    await server.close();
    await tl!.close({ graceMs: 10 });
    server = await boot({ cors: "*" }).listen({ port: 0 });
    expect(await getWithHost(server.url, "evil.example")).toBe(200);
  });

  it("names", () => {
    expect(
      ["localhost", "LOCALHOST", "app.localhost", "127.0.0.1", "127.1.2.3", "::1"].every(
        isLoopbackHost,
      ),
    ).toBe(true);
    expect(
      ["localhost.evil.example", "127.0.0.1.nip.io", "10.0.0.1", "0.0.0.0"].some(isLoopbackHost),
    ).toBe(false);
    expect(hostName("[::1]:8787")).toBe("[::1]");
    expect(isLoopbackHost(hostName("[::1]:8787"))).toBe(true);
    expect(hostName("Example.COM:80")).toBe("example.com");
  });
});
