import { afterEach, describe, expect, it } from "vitest";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import { signWebhook } from "../../src/http/hooks/signature.js";
import { jsonTooDeep, MAX_JSON_DEPTH } from "../../src/http/validation.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";

let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
});

const nested = (depth: number, leaf = "1") => "[".repeat(depth) + leaf + "]".repeat(depth);

/** Every route that parses a JSON body, with a body holding `deep` somewhere inside. */
const routes = (deep: string): [string, string][] => [
  ["/threads", `{"threadId":"x","metadata":{"a":${deep}}}`],
  ["/threads/x/runs", `{"agentId":"demo","state":${deep}}`],
  [
    "/threads/x/runs",
    `{"agentId":"demo","messages":[{"id":"m","role":"user","content":"hi","extra":${deep}}]}`,
  ],
  ["/schedules", `{"agentId":"demo","everyMs":60000,"input":{"state":${deep}}}`],
  [
    "/agent/demo/run",
    `{"threadId":"x","runId":"r","messages":[],"tools":[],"context":[],"state":${deep}}`,
  ],
  ["/", `{"method":"info","body":${deep}}`],
  ["/hooks/gh", `{"repo":${deep}}`],
];

function request(path: string, body: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (path.startsWith("/hooks/")) headers["X-Threadline-Signature"] = signWebhook("s", body);
  return Promise.resolve(tl!.app.request(path, { method: "POST", body, headers }));
}

describe("JSON nesting depth", () => {
  it("is limited at parse time: 400 INVALID_JSON on every route, nothing stored", async () => {
    tl = createThreadline({
      store: createMemoryStore(),
      agents: { demo: new DemoAgent() },
      hooks: [{ id: "gh", secret: "s", agentId: "demo", thread: "h" }],
    });
    for (const depth of [10_000, 2_000, MAX_JSON_DEPTH + 1]) {
      for (const [path, body] of routes(nested(depth))) {
        const res = await request(path, body);
        const text = await res.text();
        expect(res.status, `${path} at ${depth}: ${text.slice(0, 200)}`).toBe(400);
        expect(JSON.parse(text).error).toMatchObject({ code: "INVALID_JSON" });
        expect(JSON.parse(text).error.message).toMatch(/nested deeper than 64/);
      }
    }
    expect(await tl.store.threads.list()).toEqual([]);
    expect(await tl.scheduler.list()).toEqual([]);
  });

  it("accepts documents at the limit, and brackets inside strings do not count", async () => {
    tl = createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() } });
    // The body's own object is one level, `state` another.
    const atLimit = nested(MAX_JSON_DEPTH - 1);
    const inString = JSON.stringify(`${"[".repeat(500)}\\"{{{`);
    const res = await request(
      "/threads/ok/runs",
      `{"agentId":"demo","state":{"deep":${atLimit.slice(1, -1)},"s":${inString}},` +
        `"forwardedProps":{"demo":{"tokens":1,"delayMs":0}}}`,
    );
    expect(res.status, await res.clone().text()).toBe(202);
  });

  it("the scanner skips escapes inside strings", () => {
    expect(jsonTooDeep(`"\\"[[["`, 1)).toBe(false);
    expect(jsonTooDeep(`["\\\\",[[1]]]`, 2)).toBe(true);
    expect(jsonTooDeep(`[{"a":[]}]`, 3)).toBe(false);
    expect(jsonTooDeep(`[{"a":[[]]}]`, 3)).toBe(true);
  });
});
