/**
 * Webhooks from real providers, checked with the providers' own published test vectors, and
 * the README's GitHub example run verbatim through a server.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/cli/config.js";
import { ManualClock } from "../../src/core/scheduler/index.js";
import { DemoAgent } from "../../src/demo/demo-agent.js";
import type { HookConfig } from "../../src/http/hooks/hook-config.js";
import { safeThreadId } from "../../src/http/hooks/thread-id.js";
import {
  githubVerifier,
  standardWebhooksVerifier,
  stripeVerifier,
  type WebhookRequest,
} from "../../src/http/hooks/verifiers.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createThreadline, type Threadline } from "../../src/threadline.js";
import { settledRuns } from "../helpers/triggers.js";

const enc = (s: string) => new TextEncoder().encode(s);
const req = (
  headers: Record<string, string>,
  body: string,
  secrets: string[],
  nowS: number,
  extra: Partial<WebhookRequest> = {},
): WebhookRequest => ({
  headers: new Headers(headers),
  body: enc(body),
  secrets,
  nowMs: nowS * 1000,
  ...extra,
});

describe("GitHub (X-Hub-Signature-256)", () => {
  // GitHub docs, "Validating webhook deliveries", "Testing the webhook payload validation".
  const SECRET = "It's a Secret to Everybody";
  const BODY = "Hello, World!";
  const SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

  it("accepts the documented test vector and takes X-GitHub-Delivery as the delivery id", () => {
    const out = githubVerifier.verify(
      req(
        { "X-Hub-Signature-256": SIG, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958" },
        BODY,
        ["rotated-away", SECRET],
        0,
      ),
    );
    expect(out).toMatchObject({ deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958" });
  });

  it.each([
    ["a changed body", { "X-Hub-Signature-256": SIG }, "Hello, World?", /does not match/],
    ["no signature", {}, BODY, /missing X-Hub-Signature-256/],
    [
      "a SHA-1 signature",
      { "X-Hub-Signature-256": "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6" },
      BODY,
      /malformed/,
    ],
    ["a truncated signature", { "X-Hub-Signature-256": SIG.slice(0, -1) }, BODY, /malformed/],
  ])("refuses %s", (_what, headers, body, message) => {
    expect(() => githubVerifier.verify(req(headers, body, [SECRET], 0))).toThrow(message);
  });
});

describe("Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)", () => {
  // The Standard Webhooks specification's test vector (also in its reference libraries).
  const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const TS = 1614265330;
  const BODY = '{"test": 2432232314}';
  const SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  const headers = (sig = SIG, ts = String(TS)) => ({
    "webhook-id": ID,
    "webhook-timestamp": ts,
    "webhook-signature": sig,
  });

  it("accepts the specification's test vector (also among several signatures, and without the whsec_ prefix)", () => {
    expect(standardWebhooksVerifier.verify(req(headers(), BODY, [SECRET], TS))).toMatchObject({
      deliveryId: ID,
    });
    const several = `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ${SIG}`;
    expect(
      standardWebhooksVerifier.verify(req(headers(several), BODY, [SECRET], TS + 299)),
    ).toBeTruthy();
    expect(
      standardWebhooksVerifier.verify(req(headers(), BODY, [SECRET.slice(6)], TS)),
    ).toBeTruthy();
  });

  it.each([
    ["a changed body", headers(), '{"test": 2432232315}', TS, /does not match/],
    ["a changed id", { ...headers(), "webhook-id": "msg_other" }, BODY, TS, /does not match/],
    [
      "a timestamp outside the 5 minutes",
      headers(),
      BODY,
      TS + 301,
      /301 s away .*tolerance 300 s/,
    ],
    [
      "only an asymmetric (v1a) signature",
      headers(`v1a,${SIG.slice(3)}`),
      BODY,
      TS,
      /malformed webhook-signature/,
    ],
    [
      "a missing header",
      { "webhook-id": ID },
      BODY,
      TS,
      /missing webhook-id, webhook-timestamp or webhook-signature/,
    ],
  ])("refuses %s", (_what, h, body, now, message) => {
    expect(() => standardWebhooksVerifier.verify(req(h, body, [SECRET], now))).toThrow(message);
  });

  it("a secret that is not whsec_ + base64 is refused when the hook is declared", () => {
    expect(() =>
      createThreadline({
        store: createMemoryStore(),
        agents: { demo: new DemoAgent() },
        hooks: [
          {
            id: "h",
            provider: "standard-webhooks",
            secret: "whsec_not base64!",
            agentId: "demo",
            thread: "t",
          },
        ],
      }),
    ).toThrow(/hooks\[0\]: secret: a Standard Webhooks secret is whsec_ followed by base64/);
  });
});

describe("Stripe (Stripe-Signature)", () => {
  // Stripe's documented scheme (docs "Verify webhook signatures manually"): the signed payload is
  // "<t>.<raw body>", HMAC-SHA256 with the endpoint secret, hex; schemes other than v1 (test
  // mode's v0) are ignored. The header below is Stripe's documentation example.
  const DOC_HEADER =
    "t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
  const SECRET = "whsec_test_secret";
  const T = 1492774577;
  const BODY = '{"id":"evt_1","object":"event","type":"charge.succeeded"}';
  const v1 = (secret: string, t: number, body: string) =>
    createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");

  it("accepts a v1 signature of '<t>.<body>' (also next to an old secret's while rolling) and dedups by the event id", () => {
    const header = `t=${T},v1=${v1("whsec_old", T, BODY)},v1=${v1(SECRET, T, BODY)},v0=${"0".repeat(64)}`;
    expect(
      stripeVerifier.verify(req({ "Stripe-Signature": header }, BODY, [SECRET], T + 10)),
    ).toBeTruthy();
    expect(stripeVerifier.deliveryIdOf?.(JSON.parse(BODY))).toBe("evt_1");
  });

  it.each([
    ["the documentation's header under another secret", DOC_HEADER, BODY, T, /does not match/],
    [
      "only a v0 (test mode) signature",
      `t=${T},v0=${v1(SECRET, T, BODY)}`,
      BODY,
      T,
      /malformed Stripe-Signature/,
    ],
    ["a changed body", `t=${T},v1=${v1(SECRET, T, BODY)}`, `${BODY} `, T, /does not match/],
    [
      "a timestamp outside Stripe's 300 s tolerance",
      `t=${T},v1=${v1(SECRET, T, BODY)}`,
      BODY,
      T + 301,
      /tolerance 300 s/,
    ],
    [
      "a signature of another timestamp",
      `t=${T + 1},v1=${v1(SECRET, T, BODY)}`,
      BODY,
      T,
      /does not match/,
    ],
  ])("refuses %s", (_what, header, body, now, message) => {
    expect(() =>
      stripeVerifier.verify(req({ "Stripe-Signature": header }, body, [SECRET], now)),
    ).toThrow(message);
  });
});

describe("thread ids from any payload", () => {
  it("safeThreadId is one-to-one and always valid", () => {
    expect(safeThreadId("acme/app")).toBe("acme~2Fapp");
    expect(safeThreadId("acme~2Fapp")).toBe("acme~7E2Fapp");
    expect(safeThreadId("é x")).toBe("~C3~A9~20x");
    const long = safeThreadId("x".repeat(500));
    expect(long).toHaveLength(200);
    expect(long).not.toBe(safeThreadId(`${"x".repeat(499)}y`));
    expect(long).toMatch(/^[A-Za-z0-9._:@~-]+$/);
  });
});

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
let tl: Threadline | undefined;
afterEach(async () => {
  await tl?.close({ graceMs: 100 });
  tl = undefined;
});

async function serve(hooks: HookConfig[]): Promise<Threadline> {
  tl = createThreadline({
    store: createMemoryStore(),
    agents: { demo: new DemoAgent() },
    clock: new ManualClock(T0),
    hooks,
  });
  await tl.ready;
  return tl;
}

describe("the README's GitHub example, verbatim", () => {
  const dir = mkdtempSync(join(tmpdir(), "threadline-readme-hook-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ROOT = fileURLToPath(new URL("../..", import.meta.url));

  /** The README's code block, with `threadline` pointing at this repository's source. */
  function readmeConfig(): string {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const m = /<!-- readme-github-hook -->\n```ts\n([\s\S]*?)```/.exec(readme);
    if (!m?.[1]) throw new Error("README: the GitHub hook example is missing");
    const file = join(dir, "threadline.config.ts");
    const src = pathToFileURL(join(ROOT, "src/index.ts")).href;
    writeFileSync(file, m[1].replace(/from "threadline"/g, `from ${JSON.stringify(src)}`));
    return file;
  }

  it("a signed GitHub delivery runs on the repository's thread; its redelivery does not run again", async () => {
    process.env.GITHUB_WEBHOOK_SECRET = "gh-secret";
    const config = await loadConfig(readmeConfig(), dir);
    delete process.env.GITHUB_WEBHOOK_SECRET;
    const server = await serve(config.hooks ?? []);
    const payload = JSON.stringify({ action: "opened", repository: { full_name: "acme/app" } });
    const deliver = () =>
      server.app.request("/hooks/github", {
        method: "POST",
        body: payload,
        headers: {
          "content-type": "application/json",
          "X-GitHub-Event": "issues",
          "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
          "X-Hub-Signature-256": `sha256=${createHmac("sha256", "gh-secret").update(payload).digest("hex")}`,
        },
      });
    const first = await deliver();
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ threadId: "github:acme~2Fapp" });
    const again = await deliver();
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      duplicate: true,
      deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    });
    const [run] = await settledRuns(server.store, "github:acme~2Fapp", 1);
    expect(run?.trigger).toMatchObject({
      kind: "webhook",
      hookId: "github",
      deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    });
    const view = (await (await server.app.request("/threads/github:acme~2Fapp")).json()) as {
      messages: unknown[];
    };
    expect(view.messages[0]).toMatchObject({ role: "user", content: "opened on acme/app" });
    const forged = await server.app.request("/hooks/github", {
      method: "POST",
      body: payload,
      headers: { "X-Hub-Signature-256": `sha256=${"0".repeat(64)}`, "X-GitHub-Delivery": "other" },
    });
    expect(forged.status).toBe(401);
  });

  it("Stripe and Standard Webhooks deliveries dedup by the event id and webhook-id", async () => {
    const server = await serve([
      {
        id: "stripe",
        provider: "stripe",
        secret: "whsec_s",
        agentId: "demo",
        thread: "billing:{{/data/object/customer}}",
      },
      {
        id: "svix",
        provider: "standard-webhooks",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        agentId: "demo",
        thread: "/type",
      },
    ]);
    const t = T0 / 1000;
    const body = JSON.stringify({
      id: "evt_9",
      type: "invoice.paid",
      data: { object: { customer: "cus_1" } },
    });
    const stripe = () =>
      server.app.request("/hooks/stripe", {
        method: "POST",
        body,
        headers: {
          "Stripe-Signature": `t=${t},v1=${createHmac("sha256", "whsec_s").update(`${t}.${body}`).digest("hex")}`,
        },
      });
    expect(await (await stripe()).json()).toMatchObject({ threadId: "billing:cus_1" });
    expect(await (await stripe()).json()).toMatchObject({ duplicate: true, deliveryId: "evt_9" });

    const key = Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64");
    const sw = JSON.stringify({ type: "user.created" });
    const svix = (id: string) =>
      server.app.request("/hooks/svix", {
        method: "POST",
        body: sw,
        headers: {
          "webhook-id": id,
          "webhook-timestamp": String(t),
          "webhook-signature": `v1,${createHmac("sha256", key).update(`${id}.${t}.${sw}`).digest("base64")}`,
        },
      });
    expect((await svix("msg_1")).status).toBe(202);
    expect(await (await svix("msg_1")).json()).toMatchObject({ duplicate: true });
    expect((await svix("msg_2")).status).toBe(202);
    await settledRuns(server.store, "billing:cus_1", 1);
    await settledRuns(server.store, "user.created", 2);
  });

  it("a custom verifier: its errors are 401s with its message", async () => {
    const server = await serve([
      {
        id: "acme",
        provider: {
          name: "acme",
          verify: ({ headers }) => {
            if (headers.get("x-acme-key") !== "k") throw new Error("bad x-acme-key");
            return { deliveryId: headers.get("x-acme-id") ?? "none", fingerprint: "acme" };
          },
        },
        secret: "unused",
        agentId: "demo",
        thread: "acme",
      },
    ]);
    const post = (key: string) =>
      server.app.request("/hooks/acme", {
        method: "POST",
        body: "{}",
        headers: { "x-acme-key": key, "x-acme-id": "1" },
      });
    const refused = await post("nope");
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toBe(
      "the acme verifier refused the delivery: bad x-acme-key",
    );
    expect((await post("k")).status).toBe(202);
    await settledRuns(server.store, "acme", 1);
  });
});
