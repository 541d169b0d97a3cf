import { createHmac, timingSafeEqual } from "node:crypto";
import { ThreadlineError } from "../../core/errors.js";
import { HEADER_DELIVERY, HEADER_SIGNATURE } from "../../protocol.js";

/** How far a signature's timestamp may be from the server's clock. */
export const DEFAULT_SIGNATURE_TOLERANCE_S = 300;

/**
 * `X-Threadline-Delivery` values: printable ASCII without spaces or dots. No dot, so that the
 * `v2` signed text `v2.<t>.<delivery id>.<body>` splits one way only.
 */
export const DELIVERY_ID = /^[\x21-\x2d\x2f-\x7e]{1,200}$/;

const encoder = new TextEncoder();
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/**
 * The text a signature covers. `v2` binds the delivery id (and says which scheme it is, so a
 * signature of one scheme can never pass as the other); `v1` covers only the timestamp and body
 * and is accepted only for requests without a delivery id.
 */
function signedText(scheme: "v1" | "v2", t: string, deliveryId: string | undefined): string {
  return scheme === "v2" ? `v2.${t}.${deliveryId}.` : `${t}.`;
}

function hmac(secret: string, prefix: string, body: Uint8Array): Buffer {
  return createHmac("sha256", secret).update(prefix).update(body).digest();
}

/**
 * The `X-Threadline-Signature` value for a delivery. With a delivery id (sent as
 * `X-Threadline-Delivery`): `t=<unix seconds>,v2=<hex HMAC-SHA256(secret, "v2.<t>.<delivery
 * id>.<raw body>")>`; without one: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw
 * body>")>`. For senders (and tests); sign the exact bytes you send. A number as the third
 * argument is the timestamp (the signature of earlier versions).
 */
export function signWebhook(
  secret: string,
  body: string | Uint8Array,
  opts: number | { timestampSec?: number; deliveryId?: string } = {},
): string {
  const { timestampSec = Date.now() / 1000, deliveryId } =
    typeof opts === "number" ? { timestampSec: opts } : opts;
  const t = String(Math.floor(timestampSec));
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const scheme = deliveryId === undefined ? "v1" : "v2";
  return `t=${t},${scheme}=${hmac(secret, signedText(scheme, t, deliveryId), bytes).toString("hex")}`;
}

export interface VerifiedSignature {
  timestampSec: number;
  scheme: "v1" | "v2";
  /** The matching signature (lowercase hex): names the exact request when no delivery id is sent. */
  signature: string;
}

const unauthorized = (message: string) => new ThreadlineError("UNAUTHORIZED", message);

const MALFORMED = `malformed ${HEADER_SIGNATURE}: expected t=<unix seconds>,v2=<64 hex digits> (or v1= without a delivery id)`;

/** Strict parse: one `t`, signatures of exactly 64 hex digits; unknown schemes are ignored. */
function parseHeader(header: string): { t: string; v1: string[]; v2: string[] } {
  let t: string | undefined;
  const out = { v1: [] as string[], v2: [] as string[] };
  for (const part of header.split(",")) {
    const m = /^\s*([a-z][a-z0-9]*)=(\S*)\s*$/.exec(part);
    if (!m) throw unauthorized(MALFORMED);
    const [, key, value] = m as unknown as [string, string, string];
    if (key === "t") {
      if (t !== undefined || !/^\d{1,12}$/.test(value)) throw unauthorized(MALFORMED);
      t = value;
    } else if (key === "v1" || key === "v2") {
      // Exactly a SHA-256 in hex: an odd digit more would be dropped by a lenient decoder and
      // make a second, equally valid spelling of the same signature.
      if (!HEX_SHA256.test(value)) throw unauthorized(MALFORMED);
      out[key].push(value.toLowerCase());
    }
  }
  if (t === undefined || out.v1.length + out.v2.length === 0) throw unauthorized(MALFORMED);
  return { t, ...out };
}

/**
 * Verifies a webhook signature against any of `secrets` (rotation) and checks its timestamp is
 * within `toleranceSec` of `nowMs`. A request with a delivery id must carry a `v2` signature,
 * which covers the id: a replay cannot pose as a new delivery by changing it. Throws 401 saying
 * what is wrong.
 */
export function verifySignature(opts: {
  header: string | undefined;
  body: Uint8Array;
  deliveryId?: string | undefined;
  secrets: readonly string[];
  nowMs: number;
  toleranceSec?: number;
}): VerifiedSignature {
  const { header, deliveryId } = opts;
  if (!header) throw unauthorized(`missing ${HEADER_SIGNATURE} header`);
  const parsed = parseHeader(header);
  const scheme = deliveryId === undefined ? "v1" : "v2";
  const given = parsed[scheme];
  if (given.length === 0) {
    throw unauthorized(
      scheme === "v2"
        ? `${HEADER_SIGNATURE} must cover the ${HEADER_DELIVERY} id: send v2=<hex HMAC-SHA256(secret, "v2.<t>.<delivery id>.<body>")>`
        : `a v2 signature needs the ${HEADER_DELIVERY} header it covers`,
    );
  }
  const prefix = signedText(scheme, parsed.t, deliveryId);
  let match: string | undefined;
  for (const secret of opts.secrets) {
    const expected = hmac(secret, prefix, opts.body);
    for (const g of given) {
      if (timingSafeEqual(Buffer.from(g, "hex"), expected)) match ??= g;
    }
  }
  if (match === undefined) throw unauthorized(`${HEADER_SIGNATURE} does not match the request`);
  const tolerance = opts.toleranceSec ?? DEFAULT_SIGNATURE_TOLERANCE_S;
  const skew = Math.round(Math.abs(opts.nowMs / 1000 - Number(parsed.t)));
  if (skew > tolerance) {
    throw unauthorized(
      `${HEADER_SIGNATURE} timestamp is ${skew} s away from the server's clock (tolerance ${tolerance} s)`,
    );
  }
  return { timestampSec: Number(parsed.t), scheme, signature: match };
}
