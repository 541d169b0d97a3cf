import { createHmac, timingSafeEqual } from "node:crypto";
import { ThreadlineError } from "../../core/errors.js";
import { HEADER_SIGNATURE } from "../../protocol.js";

/** How far a signature's timestamp may be from the server's clock. */
export const DEFAULT_SIGNATURE_TOLERANCE_S = 300;

const encoder = new TextEncoder();

function hmacHex(secret: string, t: string, body: Uint8Array): string {
  return createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
}

/**
 * The `X-Threadline-Signature` value for a body: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 * "<t>.<raw body>")>`. For senders (and tests); sign the exact bytes you send.
 */
export function signWebhook(
  secret: string,
  body: string | Uint8Array,
  timestampSec: number = Math.floor(Date.now() / 1000),
): string {
  const t = String(Math.floor(timestampSec));
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return `t=${t},v1=${hmacHex(secret, t, bytes)}`;
}

export interface VerifiedSignature {
  timestampSec: number;
  /** The matching signature (hex): identifies the exact request when no delivery id is sent. */
  signature: string;
}

const unauthorized = (message: string) => new ThreadlineError("UNAUTHORIZED", message);

/**
 * Verifies a webhook signature against any of `secrets` (rotation) and checks its timestamp is
 * within `toleranceSec` of `nowMs`. Throws 401 saying what is wrong.
 */
export function verifySignature(opts: {
  header: string | undefined;
  body: Uint8Array;
  secrets: readonly string[];
  nowMs: number;
  toleranceSec?: number;
}): VerifiedSignature {
  const { header } = opts;
  if (!header) throw unauthorized(`missing ${HEADER_SIGNATURE} header`);
  let t: string | undefined;
  const given: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") t = value;
    else if (key === "v1") given.push(value.toLowerCase());
  }
  if (t === undefined || !/^\d{1,12}$/.test(t) || given.length === 0) {
    throw unauthorized(`malformed ${HEADER_SIGNATURE}: expected t=<unix seconds>,v1=<hex>`);
  }
  const match = opts.secrets
    .map((secret) => Buffer.from(hmacHex(secret, t, opts.body), "hex"))
    .flatMap((expected) =>
      given.filter((g) => {
        const candidate = Buffer.from(/^[0-9a-f]+$/.test(g) ? g : "", "hex");
        return candidate.length === expected.length && timingSafeEqual(candidate, expected);
      }),
    )[0];
  if (match === undefined) throw unauthorized(`${HEADER_SIGNATURE} does not match the body`);
  const tolerance = opts.toleranceSec ?? DEFAULT_SIGNATURE_TOLERANCE_S;
  const skew = Math.round(Math.abs(opts.nowMs / 1000 - Number(t)));
  if (skew > tolerance) {
    throw unauthorized(
      `${HEADER_SIGNATURE} timestamp is ${skew} s away from the server's clock (tolerance ${tolerance} s)`,
    );
  }
  return { timestampSec: Number(t), signature: match };
}
