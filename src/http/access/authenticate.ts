import { hkdfSync, randomBytes } from "node:crypto";
import { decodeProtectedHeader, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { OPEN_PRINCIPAL, type Principal, TOKEN_PRINCIPAL } from "../../core/access.js";
import { ThreadlineError } from "../../core/errors.js";
import type { InterruptLinkGrant } from "../../core/interrupt-link.js";
import { QUERY_ACCESS_TOKEN } from "../../protocol.js";
import { tokenMatches } from "../auth.js";
import { type JwtOptions, JwtVerifier } from "./jwt.js";

/** JWT `typ` of signed follow URLs' tokens (never accepted as a user's bearer token). */
const FOLLOW_TYP = "threadline-follow+jwt";
/** JWT `typ` of signed interrupt links' tokens (PROTOCOL.md §3.1.10). */
const INTERRUPT_TYP = "threadline-interrupt+jwt";
/** A follow URL only has to outlive the page's first connect and its quick reconnects. */
export const DEFAULT_FOLLOW_URL_TTL_MS = 5 * 60 * 1000;

export interface AuthOptions {
  /** The static bearer token: full access. */
  token?: string;
  /** Users' JWTs. */
  jwt?: JwtOptions;
  /**
   * Key of signed follow URLs (at least 16 characters; the same on every instance). Default:
   * derived from the token or the JWT secret; else a per-process key.
   */
  followUrlSecret?: string;
  /** Lifetime of a follow URL. Default 5 min (it is checked when a follow starts). */
  followUrlTtlMs?: number;
  /** The clock of interrupt links (the interrupts' own: the scheduler's). Default `now`. */
  linkNow?: () => number;
  /**
   * Key of signed interrupt links (at least 16 characters; the same on every instance). Default:
   * derived from the follow URL key's material (its secret, the token or the JWT secret).
   */
  interruptLinkSecret?: string;
  now?: () => number;
}

/** The credential a request presents: `Authorization: Bearer`, else `?access_token=`. */
export function presentedToken(request: Request): string {
  const header = request.headers.get("authorization") ?? "";
  if (header.startsWith("Bearer ")) return header.slice(7).trim();
  return new URL(request.url).searchParams.get(QUERY_ACCESS_TOKEN) ?? "";
}

/**
 * Who a request speaks for (see `core/access.ts`): the static token, a user's JWT or a signed
 * follow URL; `open` when the server has neither token nor JWT configured. UNAUTHORIZED for a
 * missing, wrong, expired or wrongly signed credential. One answer per request object.
 */
export class Authenticator {
  private readonly jwt: JwtVerifier | undefined;
  private readonly followKey: Uint8Array;
  private readonly linkKey: Uint8Array;
  private readonly cache = new WeakMap<Request, Promise<Principal>>();
  private readonly now: () => number;
  private readonly linkNow: () => number;

  constructor(private readonly opts: AuthOptions) {
    this.now = opts.now ?? Date.now;
    this.linkNow = opts.linkNow ?? this.now;
    this.jwt = opts.jwt ? new JwtVerifier(opts.jwt, this.now) : undefined;
    if (opts.followUrlSecret !== undefined && opts.followUrlSecret.length < 16) {
      throw new ThreadlineError("BAD_REQUEST", "followUrlSecret must be at least 16 characters");
    }
    if (opts.interruptLinkSecret !== undefined && opts.interruptLinkSecret.length < 16) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        "interruptLinkSecret must be at least 16 characters",
      );
    }
    const material =
      opts.followUrlSecret ?? opts.token ?? opts.jwt?.secret ?? randomBytes(32).toString("hex");
    const key = (from: string, info: string) =>
      new Uint8Array(hkdfSync("sha256", Buffer.from(from), "", info, 32));
    this.followKey = key(material, "threadline follow url");
    this.linkKey = key(opts.interruptLinkSecret ?? material, "threadline interrupt link");
  }

  /** Whether the server checks credentials at all (else every principal is `open`). */
  get configured(): boolean {
    return Boolean(this.opts.token) || this.jwt !== undefined;
  }

  authenticate(request: Request): Promise<Principal> {
    let p = this.cache.get(request);
    if (!p) {
      p = this.principalOf(presentedToken(request));
      this.cache.set(request, p);
    }
    return p;
  }

  /** The principal of a credential as presented (a bearer token or a follow URL's token). */
  async principalOf(given: string): Promise<Principal> {
    // A link speaks for whom it was made for, on an open server too.
    if (given && isTyped(given, INTERRUPT_TYP)) return this.verifyLink(given);
    if (!this.configured) return OPEN_PRINCIPAL;
    if (!given) {
      throw new ThreadlineError(
        "UNAUTHORIZED",
        "this server requires `Authorization: Bearer <token>`",
      );
    }
    if (this.opts.token && tokenMatches(given, this.opts.token)) return TOKEN_PRINCIPAL;
    if (isTyped(given, FOLLOW_TYP)) return this.verifyFollow(given);
    if (this.jwt && given.split(".").length === 3) return this.jwt.verify(given);
    throw new ThreadlineError("UNAUTHORIZED", "the bearer token is not valid");
  }

  /**
   * A signed follow URL's token: the minting principal (checked again when it is used) and the
   * one thread it follows.
   */
  async mintFollowToken(
    p: Principal,
    threadId: string,
  ): Promise<{ token: string; expiresAt: number }> {
    const now = this.now();
    const expiresAt = now + (this.opts.followUrlTtlMs ?? DEFAULT_FOLLOW_URL_TTL_MS);
    const token = await new SignJWT({
      thr: threadId,
      pk: p.kind,
      ...(p.threads ? { pt: p.threads } : {}),
    })
      .setProtectedHeader({ alg: "HS256", typ: FOLLOW_TYP })
      .setSubject(p.id)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.followKey);
    return { token, expiresAt };
  }

  /** A signed interrupt link's token (PROTOCOL.md §3.1.10) for `grant`, valid until `expiresAt`. */
  async mintInterruptLink(grant: InterruptLinkGrant, expiresAt: number): Promise<string> {
    const jwt = new SignJWT({
      thr: grant.threadId,
      int: grant.interruptId,
      st: grant.statuses,
      seq: grant.seq,
      ct: grant.createdAt,
    })
      .setProtectedHeader({ alg: "HS256", typ: INTERRUPT_TYP })
      .setIssuedAt(Math.floor(this.linkNow() / 1000))
      .setExpirationTime(Math.floor(expiresAt / 1000));
    if (grant.sub !== undefined) jwt.setSubject(grant.sub);
    return jwt.sign(this.linkKey);
  }

  private async verifyLink(given: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(given, this.linkKey, {
        algorithms: ["HS256"],
        typ: INTERRUPT_TYP,
        currentDate: new Date(this.linkNow()),
      }));
    } catch (error) {
      const expired = (error as { code?: string }).code === "ERR_JWT_EXPIRED";
      throw new ThreadlineError(
        "UNAUTHORIZED",
        expired ? "the interrupt link expired" : "the interrupt link's signature is not valid",
        { cause: error },
      );
    }
    const { thr, int, st, seq, ct, sub } = payload;
    const statuses = Array.isArray(st)
      ? st.filter((s) => s === "resolved" || s === "cancelled")
      : [];
    if (
      typeof thr !== "string" ||
      typeof int !== "string" ||
      typeof seq !== "number" ||
      typeof ct !== "number" ||
      statuses.length === 0
    ) {
      throw new ThreadlineError("UNAUTHORIZED", "the interrupt link is malformed");
    }
    const grant: InterruptLinkGrant = {
      threadId: thr,
      interruptId: int,
      statuses,
      seq,
      createdAt: ct,
      ...(sub === undefined ? {} : { sub }),
    };
    return { kind: "link", id: sub ?? "anonymous", interruptOnly: grant };
  }

  private async verifyFollow(given: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(given, this.followKey, {
        algorithms: ["HS256"],
        typ: FOLLOW_TYP,
        currentDate: new Date(this.now()),
      });
      const kind = payload.pk;
      if ((kind !== "token" && kind !== "user" && kind !== "open") || !payload.sub) {
        throw new Error("malformed follow token");
      }
      if (typeof payload.thr !== "string") throw new Error("malformed follow token");
      const threads = Array.isArray(payload.pt)
        ? payload.pt.filter((t): t is string => typeof t === "string")
        : undefined;
      return { kind, id: payload.sub, followOnly: payload.thr, ...(threads ? { threads } : {}) };
    } catch (error) {
      const expired = (error as { code?: string }).code === "ERR_JWT_EXPIRED";
      throw new ThreadlineError(
        "UNAUTHORIZED",
        expired ? "the follow URL expired" : "the follow URL's signature is not valid",
        { cause: error },
      );
    }
  }
}

function isTyped(given: string, typ: string): boolean {
  try {
    return decodeProtectedHeader(given).typ === typ;
  } catch {
    return false;
  }
}
