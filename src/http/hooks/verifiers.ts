import { createHmac, timingSafeEqual } from "node:crypto";
import { ThreadlineError } from "../../core/errors.js";
import { HEADER_DELIVERY, HEADER_SIGNATURE } from "../../protocol.js";
import { DELIVERY_ID, verifySignature } from "./signature.js";

/** What a verifier is given: the raw request and the hook's secrets (several during rotation). */
export interface WebhookRequest {
  headers: Headers;
  /** The exact bytes received: every provider signs those, not a re-serialised JSON. */
  body: Uint8Array;
  secrets: readonly string[];
  nowMs: number;
  /** Allowed clock skew of a signed timestamp, seconds (the hook's `toleranceSec`). */
  toleranceSec?: number;
}

export interface VerifiedWebhook {
  /** The sender's id of this delivery: a retry of the same delivery carries the same one. */
  deliveryId?: string;
  /** Names this exact request when there is no delivery id (e.g. the signature). */
  fingerprint: string;
}

/**
 * Checks that a delivery comes from the sender holding the secret. Throw (a `ThreadlineError`
 * `UNAUTHORIZED`, or any error: it becomes a 401 with its message) to refuse it.
 */
export interface WebhookVerifier {
  readonly name: string;
  verify(req: WebhookRequest): VerifiedWebhook | Promise<VerifiedWebhook>;
  /** The delivery id when the sender puts it in the payload rather than a header (Stripe). */
  deliveryIdOf?(payload: unknown): string | undefined;
  /** Rejects a secret this verifier cannot use (checked when the hook is declared). */
  checkSecret?(secret: string): void;
}

const unauthorized = (message: string) => new ThreadlineError("UNAUTHORIZED", message);
const PROVIDER_ID = /^[\x21-\x7e]{1,200}$/;

function hmac(key: string | Buffer, ...parts: (string | Uint8Array)[]): Buffer {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest();
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkSkew(t: number, req: WebhookRequest, header: string, fallback: number): void {
  const tolerance = req.toleranceSec ?? fallback;
  const skew = Math.round(Math.abs(req.nowMs / 1000 - t));
  if (skew > tolerance) {
    throw unauthorized(
      `${header} timestamp is ${skew} s away from the server's clock (tolerance ${tolerance} s): a replayed or delayed delivery`,
    );
  }
}

function providerId(value: string | null | undefined, header: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!PROVIDER_ID.test(value)) {
    throw new ThreadlineError("BAD_REQUEST", `${header} must be 1-200 printable ASCII characters`);
  }
  return value;
}

/** Threadline's own scheme: `X-Threadline-Signature` (v2 covers `X-Threadline-Delivery`). */
export const threadlineVerifier: WebhookVerifier = {
  name: "threadline",
  verify(req) {
    const deliveryId = req.headers.get(HEADER_DELIVERY) ?? undefined;
    if (deliveryId !== undefined && !DELIVERY_ID.test(deliveryId)) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        `${HEADER_DELIVERY} must be 1-200 printable ASCII characters without spaces or dots`,
      );
    }
    const verified = verifySignature({
      header: req.headers.get(HEADER_SIGNATURE) ?? undefined,
      body: req.body,
      deliveryId,
      secrets: req.secrets,
      nowMs: req.nowMs,
      ...(req.toleranceSec === undefined ? {} : { toleranceSec: req.toleranceSec }),
    });
    return { ...(deliveryId ? { deliveryId } : {}), fingerprint: `sig:${verified.signature}` };
  },
};

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, the delivery's GUID in
 * `X-GitHub-Delivery` (the same on a redelivery, so it dedups). GitHub signs no timestamp and
 * not the delivery id, so there is no replay window to check.
 */
export const githubVerifier: WebhookVerifier = {
  name: "github",
  verify(req) {
    const header = req.headers.get("x-hub-signature-256");
    if (!header) {
      throw unauthorized(
        "missing X-Hub-Signature-256 header (set a secret on the GitHub webhook; the SHA-1 X-Hub-Signature is not accepted)",
      );
    }
    const m = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
    if (!m) throw unauthorized("malformed X-Hub-Signature-256: expected sha256=<64 hex digits>");
    const given = Buffer.from(m[1] as string, "hex");
    if (!req.secrets.some((s) => same(hmac(s, req.body), given))) {
      throw unauthorized("X-Hub-Signature-256 does not match the body (wrong secret?)");
    }
    const deliveryId = providerId(req.headers.get("x-github-delivery"), "X-GitHub-Delivery");
    return { ...(deliveryId ? { deliveryId } : {}), fingerprint: `sig:${given.toString("hex")}` };
  },
};

/**
 * Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (several
 * `v1` during a secret roll; other schemes, such as test mode's `v0`, are ignored as Stripe says
 * to). The endpoint secret (`whsec_...`) is the key as is. Default tolerance 300 s, as Stripe's
 * libraries. Stripe sends no delivery header: the event id (`evt_...`) in the payload dedups
 * retries.
 */
export const stripeVerifier: WebhookVerifier = {
  name: "stripe",
  verify(req) {
    const header = req.headers.get("stripe-signature");
    if (!header) throw unauthorized("missing Stripe-Signature header");
    let t: string | undefined;
    const v1: Buffer[] = [];
    for (const part of header.split(",")) {
      const eq = part.indexOf("=");
      const key = part.slice(0, eq).trim();
      const value = part.slice(eq + 1).trim();
      if (key === "t" && /^\d{1,12}$/.test(value)) t = value;
      else if (key === "v1" && /^[0-9a-f]{64}$/i.test(value)) v1.push(Buffer.from(value, "hex"));
    }
    if (t === undefined || v1.length === 0) {
      throw unauthorized(
        "malformed Stripe-Signature: expected t=<unix seconds>,v1=<64 hex digits>",
      );
    }
    const match = v1.find((g) => req.secrets.some((s) => same(hmac(s, `${t}.`, req.body), g)));
    if (!match)
      throw unauthorized("Stripe-Signature does not match the body (wrong endpoint secret?)");
    checkSkew(Number(t), req, "Stripe-Signature", 300);
    return { fingerprint: `sig:${match.toString("hex")}` };
  },
  deliveryIdOf(payload) {
    const id = (payload as { id?: unknown } | null)?.id;
    return typeof id === "string" ? providerId(id, "the Stripe event id") : undefined;
  },
};

/** A Standard Webhooks secret: `whsec_` and the base64 of the key (the prefix is optional). */
function standardKey(secret: string): Buffer {
  const b64 = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new Error("a Standard Webhooks secret is whsec_ followed by base64");
  }
  return Buffer.from(b64, "base64");
}

/**
 * Standard Webhooks (standardwebhooks.com; Svix and others): `webhook-id`, `webhook-timestamp`
 * and `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` (several,
 * space-separated), the key being the base64 after `whsec_`. Tolerance 300 s, as the
 * specification's libraries. `webhook-id` is signed and dedups retries.
 */
export const standardWebhooksVerifier: WebhookVerifier = {
  name: "standard-webhooks",
  checkSecret: (secret) => void standardKey(secret),
  verify(req) {
    const id = req.headers.get("webhook-id");
    const ts = req.headers.get("webhook-timestamp");
    const header = req.headers.get("webhook-signature");
    if (!id || !ts || !header) {
      throw unauthorized("missing webhook-id, webhook-timestamp or webhook-signature header");
    }
    if (!/^\d{1,12}$/.test(ts))
      throw unauthorized("malformed webhook-timestamp: expected unix seconds");
    const given = header
      .split(" ")
      .filter((p) => p.startsWith("v1,"))
      .map((p) => Buffer.from(p.slice(3), "base64"));
    if (given.length === 0) throw unauthorized("malformed webhook-signature: expected v1,<base64>");
    const match = given.find((g) =>
      req.secrets.some((s) => same(hmac(standardKey(s), `${id}.${ts}.`, req.body), g)),
    );
    if (!match) throw unauthorized("webhook-signature does not match the request (wrong secret?)");
    checkSkew(Number(ts), req, "webhook-timestamp", 300);
    return {
      deliveryId: providerId(id, "webhook-id") as string,
      fingerprint: `sig:${match.toString("hex")}`,
    };
  },
};

export const BUILTIN_VERIFIERS = {
  threadline: threadlineVerifier,
  github: githubVerifier,
  stripe: stripeVerifier,
  "standard-webhooks": standardWebhooksVerifier,
} as const satisfies Record<string, WebhookVerifier>;
export type BuiltinVerifierName = keyof typeof BUILTIN_VERIFIERS;
