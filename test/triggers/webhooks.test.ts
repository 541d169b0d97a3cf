import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import type { HookConfig } from "../../src/http/hooks/hook-config.js";
import { signWebhook } from "../../src/http/hooks/signature.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { postHook, settledRuns } from "../helpers/triggers.js";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const NOW_S = T0 / 1000;
const SECRET = "s3cret";
let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
});

const fast = { forwardedProps: { demo: { delayMs: 0, tokens: 1 } } };

async function boot(hooks: HookConfig[], token?: string): Promise<Threadline> {
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { demo: new DemoAgent() },
    clock: new ManualClock(T0),
    hooks,
    ...(token ? { token } : {}),
  });
  await tl.ready;
  return tl;
}

const basic: HookConfig = { id: "gh", secret: SECRET, agentId: "demo", thread: "/repo/id" };

async function errorOf(res: Response) {
  return {
    status: res.status,
    ...((await res.json()) as { error: { code: string; message: string } }).error,
  };
}

describe("webhooks", () => {
  it("starts a run from a signed delivery, with the payload as input by default", async () => {
    await boot([{ ...basic, input: undefined }]);
    const res = await postHook(
      tl!,
      "gh",
      { repo: { id: 42 }, action: "push" },
      { secret: SECRET, delivery: "abc" },
    );
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body).toMatchObject({ threadId: "42", runId: expect.any(String) });
    const [run] = await settledRuns(tl!.store, "42", 1);
    expect(run).toMatchObject({
      runId: body.runId,
      trigger: { kind: "webhook", hookId: "gh", deliveryId: "abc" },
    });
    expect(run!.input.messages?.[0]?.content).toContain('"action":"push"');
    expect(run!.input.forwardedProps).toEqual({
      webhook: { hookId: "gh", deliveryId: "abc", payload: { repo: { id: 42 }, action: "push" } },
    });
  });

  it("maps payloads with templates and functions", async () => {
    await boot([
      {
        id: "tpl",
        secret: SECRET,
        agentId: "demo",
        thread: "inbox",
        input: {
          messages: [{ role: "user", content: "{{/who}} says {{/what}}" }],
          state: { last: "{{/what}}", raw: "{{}}" },
          ...fast,
        },
      },
      {
        id: "fn",
        secret: [SECRET, "new-secret"],
        agentId: "demo",
        thread: (p) => `order-${(p as { order: number }).order}`,
        input: (p, d) => ({
          messages: [
            {
              id: `m-${d.deliveryId}`,
              role: "user",
              content: `order ${(p as { order: number }).order}`,
            },
          ],
          ...fast,
        }),
      },
    ]);
    expect(
      (await postHook(tl!, "tpl", { who: "ann", what: { n: 1 } }, { secret: SECRET })).status,
    ).toBe(202);
    const [run] = await settledRuns(tl!.store, "inbox", 1);
    expect(run!.input.messages?.[0]?.content).toBe('ann says {"n":1}');
    expect(run!.input.state).toEqual({ last: { n: 1 }, raw: { who: "ann", what: { n: 1 } } });

    // Signed with the second secret of a rotation.
    const fn = await postHook(tl!, "fn", { order: 7 }, { secret: "new-secret", delivery: "d7" });
    expect(fn.status).toBe(202);
    const [order] = await settledRuns(tl!.store, "order-7", 1);
    expect(order!.input.messages?.[0]).toMatchObject({ id: "m-d7", content: "order 7" });
  });

  it("rejects missing, malformed and wrong signatures with 401", async () => {
    await boot([basic]);
    const payload = { repo: { id: 1 } };
    const cases: [Parameters<typeof postHook>[3], RegExp][] = [
      [{ secret: SECRET, signature: null }, /missing X-Threadline-Signature/],
      [{ secret: SECRET, signature: "sha256=abc" }, /malformed/],
      [{ secret: SECRET, signature: `t=${NOW_S}` }, /malformed/],
      [{ secret: SECRET, signature: `t=${NOW_S},v1=zz` }, /malformed/],
      [{ secret: "wrong" }, /does not match/],
      // Signed for another body.
      [{ secret: SECRET, signature: signWebhook(SECRET, "{}", NOW_S) }, /does not match/],
    ];
    for (const [opts, message] of cases) {
      const err = await errorOf(await postHook(tl!, "gh", payload, opts));
      expect(err).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
      expect(err.message).toMatch(message);
    }
    expect(await tl!.store.runs.list("1")).toEqual([]);
  });

  it("replays inside the window never start a second run", async () => {
    await boot([{ ...basic, input: fast }]);
    const payload = { repo: { id: 9 } };
    const body = JSON.stringify(payload);
    const send = (headers: Record<string, string>) =>
      Promise.resolve(
        tl!.app.request("/hooks/gh", {
          method: "POST",
          body,
          headers: { "content-type": "application/json", ...headers },
        }),
      );
    const v2 = signWebhook(SECRET, body, { timestampSec: NOW_S, deliveryId: "d1" });
    const v1 = signWebhook(SECRET, body, NOW_S);
    expect(v2).toMatch(/^t=\d+,v2=[0-9a-f]{64}$/);
    expect(
      (await send({ "X-Threadline-Signature": v2, "X-Threadline-Delivery": "d1" })).status,
    ).toBe(202);
    expect((await send({ "X-Threadline-Signature": v1 })).status).toBe(202);

    const attempts: [string, Record<string, string>, number, RegExp | null][] = [
      [
        "the same delivery again",
        { "X-Threadline-Signature": v2, "X-Threadline-Delivery": "d1" },
        200,
        null,
      ],
      [
        "the delivery id changed",
        { "X-Threadline-Signature": v2, "X-Threadline-Delivery": "d2" },
        401,
        /does not match/,
      ],
      [
        "the delivery id dropped",
        { "X-Threadline-Signature": v2 },
        401,
        /needs the X-Threadline-Delivery/,
      ],
      [
        "a delivery id added to a v1 request",
        { "X-Threadline-Signature": v1, "X-Threadline-Delivery": "new" },
        401,
        /must cover the X-Threadline-Delivery/,
      ],
      ["one hex digit appended", { "X-Threadline-Signature": `${v1}0` }, 401, /malformed/],
      ["one hex digit dropped", { "X-Threadline-Signature": v1.slice(0, -1) }, 401, /malformed/],
      [
        "v2 relabelled v1",
        { "X-Threadline-Signature": v2.replace("v2=", "v1=") },
        401,
        /does not match/,
      ],
      [
        "the same v1 request, hex in upper case",
        {
          "X-Threadline-Signature": v1.replace(
            /v1=(.*)$/,
            (_m, h: string) => `v1=${h.toUpperCase()}`,
          ),
        },
        200,
        null,
      ],
      ["the same v1 request again", { "X-Threadline-Signature": v1 }, 200, null],
      ["a second t=", { "X-Threadline-Signature": `t=${NOW_S + 1},${v1}` }, 401, /malformed/],
    ];
    for (const [what, headers, status, message] of attempts) {
      const res = await send(headers);
      expect(res.status, what).toBe(status);
      const json = (await res.json()) as { duplicate?: boolean; error?: { message: string } };
      if (message) expect(json.error?.message, what).toMatch(message);
      else expect(json.duplicate, what).toBe(true);
    }
    expect(await settledRuns(tl!.store, "9", 2)).toHaveLength(2);
  });

  it("delivery ids may not hold dots or spaces (the v2 text must split one way)", async () => {
    await boot([basic]);
    for (const delivery of ["a.b", "a b", ""]) {
      const res = await postHook(tl!, "gh", { repo: { id: 1 } }, { secret: SECRET, delivery });
      expect(res.status, JSON.stringify(delivery)).toBe(400);
    }
  });

  it("rejects timestamps outside the tolerance with 401, both ways", async () => {
    await boot([basic, { ...basic, id: "strict", toleranceSec: 10 }]);
    const payload = { repo: { id: 1 } };
    for (const t of [NOW_S - 301, NOW_S + 301]) {
      const err = await errorOf(
        await postHook(tl!, "gh", payload, { secret: SECRET, timestampSec: t }),
      );
      expect(err).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
      expect(err.message).toMatch(
        /timestamp is 301 s away from the server's clock \(tolerance 300 s\)/,
      );
    }
    expect(
      (await postHook(tl!, "gh", payload, { secret: SECRET, timestampSec: NOW_S - 299 })).status,
    ).toBe(202);
    expect(
      (await postHook(tl!, "strict", payload, { secret: SECRET, timestampSec: NOW_S - 11 })).status,
    ).toBe(401);
  });

  it("answers unknown hooks with 404 and bad payloads with 400, without claiming the delivery", async () => {
    await boot([basic]);
    const missing = await errorOf(await postHook(tl!, "nope", {}, { secret: SECRET }));
    expect(missing).toMatchObject({ status: 404, code: "HOOK_NOT_FOUND" });

    const noThread = await errorOf(
      await postHook(tl!, "gh", { other: 1 }, { secret: SECRET, delivery: "x1" }),
    );
    expect(noThread).toMatchObject({ status: 400, code: "BAD_REQUEST" });
    expect(noThread.message).toMatch(/no value at \/repo\/id/);
    const badId = await errorOf(
      await postHook(tl!, "gh", { repo: { id: { nested: true } } }, { secret: SECRET }),
    );
    expect(badId.message).toMatch(/\/repo\/id is an object, not a thread id/);

    const raw = "{not json";
    const res = await tl!.app.request("/hooks/gh", {
      method: "POST",
      body: raw,
      headers: { "X-Threadline-Signature": signWebhook(SECRET, raw, NOW_S) },
    });
    expect((await errorOf(res)).code).toBe("INVALID_JSON");

    // The rejected delivery id was not used up: a corrected retry runs.
    expect(
      (await postHook(tl!, "gh", { repo: { id: 5 } }, { secret: SECRET, delivery: "x1" })).status,
    ).toBe(202);
  });

  it("authenticates by signature, not by the server's bearer token", async () => {
    await boot([basic], "api-token");
    expect((await postHook(tl!, "gh", { repo: { id: 3 } }, { secret: SECRET })).status).toBe(202);
    expect((await postHook(tl!, "gh", { repo: { id: 3 } }, { secret: "bad" })).status).toBe(401);
    // Other routes still need the token.
    expect((await tl!.app.request("/schedules")).status).toBe(401);
  });

  it("refuses invalid hook configuration at creation", () => {
    const make = (hooks: HookConfig[]) => () =>
      createThreadline({ store: createMemoryStore(), agents: { demo: new DemoAgent() }, hooks });
    expect(make([{ ...basic, agentId: "ghost" }])).toThrow(/hooks\[0\]: unknown agent 'ghost'/);
    expect(make([basic, basic])).toThrow(/hook id 'gh' is declared twice/);
    expect(make([{ ...basic, secret: "" }])).toThrow(/secret/);
    expect(make([{ ...basic, thread: "no/slash" }])).toThrow(/thread/);
  });
});
