import { afterEach, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { interceptStore } from "../helpers/intercept-store.js";

let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 50 });
  tl = undefined;
});

type Mode = "up" | "failing" | "hanging";

function boot(mode: { now: Mode }, token?: string) {
  const store = interceptStore(createMemoryStore(), (method, call, args) => {
    if (mode.now === "up" || method !== "threads.head") return call(...args);
    if (mode.now === "failing") return Promise.reject(new Error("connect ECONNREFUSED db:5432"));
    return new Promise(() => undefined);
  });
  tl = createThreadline({ store, agents: { demo: new DemoAgent() }, ...(token ? { token } : {}) });
  return tl;
}

async function get(path: string) {
  const res = await tl!.app.request(path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("/healthz is liveness, /readyz checks the store", () => {
  it("/readyz: 200 when the store answers, 503 with the reason when it fails or hangs", async () => {
    const mode = { now: "up" as Mode };
    boot(mode);
    await tl!.ready;
    expect(await get("/readyz")).toMatchObject({
      status: 200,
      body: { ok: true, store: "memory" },
    });
    mode.now = "failing";
    const failing = await get("/readyz");
    expect(failing.status).toBe(503);
    expect(failing.body.error).toMatchObject({
      code: "UNAVAILABLE",
      message: "not ready: the memory store is unavailable: connect ECONNREFUSED db:5432",
    });
    expect(await get("/healthz")).toMatchObject({ status: 200, body: { ok: true } });
    mode.now = "hanging";
    const hanging = await get("/readyz");
    expect(hanging.status).toBe(503);
    expect(hanging.body.error).toMatchObject({
      message: "not ready: the memory store did not answer within 2000 ms",
    });
    expect((await get("/healthz")).status).toBe(200);
  });

  it("needs no token, and then keeps the driver's message (it may name internal hosts) out", async () => {
    const mode = { now: "failing" as Mode };
    boot(mode, "secret");
    await tl!.ready;
    const res = await get("/readyz");
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ message: "not ready: the memory store is unavailable" });
    expect((await get("/threads")).status).toBe(401);
  });

  it("is 503 while shutting down", async () => {
    boot({ now: "up" });
    await tl!.ready;
    const closing = tl!.close({ graceMs: 50 });
    const res = await get("/readyz");
    await closing;
    tl = undefined;
    expect(res).toMatchObject({ status: 503 });
    expect((res.body.error as { message: string }).message).toBe("not ready: shutting down");
  });
});
