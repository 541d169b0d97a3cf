import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { Principal } from "../../core/access.js";
import { ThreadlineError } from "../../core/errors.js";

/** Per-user access: how the server verifies its users' JWTs (README "Per-user access"). */
export interface JwtOptions {
  /** Shared secret of HS256 tokens (at least 32 characters). Either this or `jwksUrl`. */
  secret?: string;
  /** The issuer's JWKS (e.g. `https://auth.example.com/.well-known/jwks.json`): RS/ES/PS/EdDSA. */
  jwksUrl?: string;
  /** Accepted `iss` values; unset: any issuer. */
  issuer?: string | string[];
  /** Accepted `aud` values; unset: any audience. */
  audience?: string | string[];
  /** Clock skew tolerated on `exp` / `nbf` / `iat`, in seconds. Default 30. */
  clockToleranceSec?: number;
  /** Accepted algorithms. Default HS256 with `secret`; RS256, ES256, PS256, EdDSA with a JWKS. */
  algorithms?: string[];
  /** The claim listing thread id prefixes the user may use besides their own threads. */
  threadsClaim?: string;
}

export const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
export const DEFAULT_THREADS_CLAIM = "threads";

/** Verifies a user's JWT and maps its claims to a principal; UNAUTHORIZED when it is not valid. */
export class JwtVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(
    private readonly opts: JwtOptions,
    private readonly now: () => number = Date.now,
  ) {
    if ((opts.secret === undefined) === (opts.jwksUrl === undefined)) {
      throw new ThreadlineError("BAD_REQUEST", "jwt needs exactly one of `secret` and `jwksUrl`");
    }
    if (opts.secret !== undefined) {
      if (opts.secret.length < 32) {
        throw new ThreadlineError("BAD_REQUEST", "jwt.secret must be at least 32 characters");
      }
      this.key = new TextEncoder().encode(opts.secret);
      this.algorithms = opts.algorithms ?? ["HS256"];
    } else {
      let url: URL;
      try {
        url = new URL(opts.jwksUrl as string);
      } catch {
        throw new ThreadlineError("BAD_REQUEST", `jwt.jwksUrl is not a URL: '${opts.jwksUrl}'`);
      }
      this.key = createRemoteJWKSet(url);
      this.algorithms = opts.algorithms ?? ["RS256", "ES256", "PS256", "EdDSA"];
    }
  }

  async verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: this.algorithms,
        clockTolerance: this.opts.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC,
        currentDate: new Date(this.now()),
        ...(this.opts.issuer === undefined ? {} : { issuer: this.opts.issuer }),
        ...(this.opts.audience === undefined ? {} : { audience: this.opts.audience }),
      }));
    } catch (error) {
      throw new ThreadlineError("UNAUTHORIZED", `the bearer token is not valid: ${why(error)}`, {
        cause: error,
      });
    }
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new ThreadlineError("UNAUTHORIZED", "the bearer token has no `sub` claim");
    }
    const raw = payload[this.opts.threadsClaim ?? DEFAULT_THREADS_CLAIM];
    const threads = Array.isArray(raw)
      ? raw.filter((p): p is string => typeof p === "string" && p !== "")
      : undefined;
    return { kind: "user", id: payload.sub, claims: payload, ...(threads ? { threads } : {}) };
  }
}

/** jose's error, said for a person: expired, bad signature, wrong issuer or audience. */
function why(error: unknown): string {
  const e = error as { code?: string; claim?: string; message?: string };
  switch (e.code) {
    case "ERR_JWT_EXPIRED":
      return "it expired";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "its signature does not verify";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return `its \`${e.claim}\` claim is not accepted (${e.message})`;
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "no key of the JWKS matches it";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "its algorithm is not accepted";
    default:
      return e.message ?? "malformed";
  }
}
