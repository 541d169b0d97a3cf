import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";

/** Requests refused before they reach a route still get the JSON error of PROTOCOL.md §6. */
let tl: Threadline;
let server: { url: string; close(): Promise<void> };
beforeAll(async () => {
  tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
  server = await tl.listen({ port: 0 });
});
afterAll(async () => {
  await server.close();
  await tl.close({ graceMs: 50 });
});

async function jsonError(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, ...body.error };
}

/**
 * Sends a raw request in pieces (as a slow client would) and reads whatever comes back until
 * the server closes; resolves with the response text, or rejects when the connection is reset.
 */
function rawExchange(url: string, head: string, pieces = 1): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      answer += d;
    });
    socket.on("error", reject);
    socket.on("end", () => resolve(answer));
    socket.on("connect", async () => {
      const size = Math.ceil(head.length / pieces);
      for (let i = 0; i < head.length && !socket.destroyed; i += size) {
        socket.write(head.slice(i, i + size));
        await new Promise((r) => setImmediate(r));
      }
    });
  });
}

describe("oversized requests", () => {
  it("a URL over the app's limit (under Node's) gets JSON 414", async () => {
    const err = await jsonError(await fetch(`${server.url}/threads/demo?x=${"a".repeat(9000)}`));
    expect(err).toMatchObject({ status: 414, code: "URI_TOO_LONG" });
    expect(err.message).toMatch(/limit 8192/);
  });

  it("a URL over Node's header limit gets JSON 431, not a bare status line", async () => {
    const err = await jsonError(await fetch(`${server.url}/threads/demo?x=${"a".repeat(20_000)}`));
    expect(err).toMatchObject({ status: 431, code: "HEADERS_TOO_LARGE" });
    expect(err.message).toMatch(/16384 bytes/);
  });

  it("headers over Node's limit get JSON 431", async () => {
    const res = await fetch(`${server.url}/threads/demo`, {
      headers: { "x-big": "b".repeat(20_000) },
    });
    expect(await jsonError(res)).toMatchObject({ status: 431, code: "HEADERS_TOO_LARGE" });
  });

  it("a client still sending a huge URL gets the answer, not a connection reset", async () => {
    const head = `GET /threads/demo?x=${"a".repeat(200_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const answer = await rawExchange(server.url, head, 40);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toContain('"code":"HEADERS_TOO_LARGE"');
  });

  it("a malformed request line gets JSON 400", async () => {
    const answer = await rawExchange(server.url, "NOT A REQUEST\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"BAD_REQUEST"');
  });

  it("the server keeps serving after all of that", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("names of Object.prototype in paths", () => {
  const names = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

  it("are not inspector assets", async () => {
    for (const name of names) {
      const err = await jsonError(await fetch(`${server.url}/_inspector/${name}`));
      expect(err, name).toMatchObject({ status: 404, code: "NOT_FOUND" });
    }
  });

  it("are ordinary unknown ids everywhere else (never 200 with junk, never 5xx)", async () => {
    for (const name of names) {
      for (const path of [
        `/threads/${name}`,
        `/threads/${name}/runs`,
        `/threads/demo/runs/${name}`,
        `/schedules/${name}`,
      ]) {
        const res = await fetch(`${server.url}${path}`);
        expect(res.status, path).toBe(404);
        await jsonError(res);
      }
      const hook = await fetch(`${server.url}/hooks/${name}`, { method: "POST", body: "{}" });
      expect(hook.status, `hook ${name}`).toBe(404);
      const agent = await fetch(`${server.url}/agent/${name}/run`, {
        method: "POST",
        body: JSON.stringify({ threadId: "t", runId: "r", messages: [], tools: [], context: [] }),
      });
      expect(agent.status, `agent ${name}`).toBe(404);
    }
  });
});
