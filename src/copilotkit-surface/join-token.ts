import { createHmac, hkdfSync, randomBytes } from "node:crypto";
import { EncryptJWT, jwtDecrypt } from "jose";
import { ThreadlineError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";

/** The request headers that identify who is asking (what `token` and `authorize` look at). */
export const DEFAULT_PRINCIPAL_HEADERS = ["authorization", "cookie"] as const;
/** CopilotKit reconnects with the same join token and never asks for a new one: keep it long. */
export const DEFAULT_JOIN_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

/** Who asked for a join token: their identifying headers, and the channel code derived from them. */
export interface Principal {
  headers: Record<string, string>;
  /** `user_meta:<code>` is this principal's channel; also the `joinCode` of `GET /threads`. */
  code: string;
}

export interface JoinSecretOptions {
  /** Shared by every instance (and kept across restarts): tokens work anywhere, any time. */
  secret?: string;
  /** The server's bearer token: a secret every instance already shares. */
  token?: string;
  /** Whether an `authorize` hook guards access (then an open secret is not good enough). */
  guarded: boolean;
  logger: Logger;
}

/**
 * The key material of join tokens. In order: the configured `secret`; one derived from the
 * server token (every instance has it); for a server without any access control, a fixed one
 * (anyone may read every thread there anyway, so a token only has to be well-formed and
 * unexpired — and then it survives restarts and works on every instance); and for an `authorize`
 * hook without either, a random per-process key, with a warning: tokens then die with the
 * process, so a page's socket cannot rejoin after a restart or on another instance.
 */
export function resolveJoinSecret(opts: JoinSecretOptions): Buffer {
  if (opts.secret !== undefined) {
    if (opts.secret.length < 16) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        "copilotkit.secret must be at least 16 characters (share one random value across instances)",
      );
    }
    return Buffer.from(`secret:${opts.secret}`);
  }
  if (opts.token) return Buffer.from(`token:${opts.token}`);
  if (!opts.guarded) return Buffer.from("open:threadline-copilotkit-join-tokens");
  opts.logger.warn(
    {},
    "copilotkit join tokens use a per-process key: set copilotkit.secret (the same on every " +
      "instance) so open pages keep their live updates across restarts and instances",
  );
  return randomBytes(32);
}

/**
 * Stateless join tokens for the run-activity socket: an encrypted JWT (`dir` + A256GCM, so the
 * principal's headers inside stay private) with an expiry, bound to the principal that asked.
 * Any instance holding the same secret verifies it; nothing is stored.
 */
export class JoinTokens {
  private readonly tokenKey: Uint8Array;
  private readonly codeKey: Buffer;
  private readonly headerNames: readonly string[];

  constructor(
    secret: Buffer,
    private readonly opts: {
      ttlMs?: number;
      principalHeaders?: readonly string[];
      now?: () => number;
    } = {},
  ) {
    this.tokenKey = new Uint8Array(hkdfSync("sha256", secret, "", "threadline join token", 32));
    this.codeKey = Buffer.from(hkdfSync("sha256", secret, "", "threadline join code", 32));
    this.headerNames = (opts.principalHeaders ?? DEFAULT_PRINCIPAL_HEADERS).map((h) =>
      h.toLowerCase(),
    );
  }

  /** The principal a request speaks for. */
  principalOf(request: Request): Principal {
    const headers: Record<string, string> = {};
    for (const name of this.headerNames) {
      const value = request.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    return { headers, code: this.codeOf(headers) };
  }

  async mint(principal: Principal): Promise<string> {
    const now = Math.floor(this.now() / 1000);
    const ttl = Math.max(1, Math.round((this.opts.ttlMs ?? DEFAULT_JOIN_TOKEN_TTL_MS) / 1000));
    return new EncryptJWT({ h: principal.headers })
      .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .encrypt(this.tokenKey);
  }

  /** The principal of a valid token; UNAUTHORIZED for a bad, expired or foreign one. */
  async verify(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtDecrypt(token, this.tokenKey, {
        currentDate: new Date(this.now()),
      });
      const raw = payload.h;
      if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error("no principal");
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) if (typeof v === "string") headers[k] = v;
      return { headers, code: this.codeOf(headers) };
    } catch (error) {
      const expired = (error as { code?: string }).code === "ERR_JWT_EXPIRED";
      throw new ThreadlineError(
        "UNAUTHORIZED",
        expired ? "the join token expired" : "the join token is not valid here",
        { cause: error },
      );
    }
  }

  private codeOf(headers: Record<string, string>): string {
    const canonical = JSON.stringify(Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : 1)));
    return createHmac("sha256", this.codeKey).update(canonical).digest("base64url").slice(0, 22);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
