import type { Logger } from "../core/logger.js";
import type { AuthorizeHook } from "../http/auth.js";
import { tokenMatches } from "../http/auth.js";
import type { Principal } from "./join-token.js";

export interface SurfaceAccess {
  /** The server's bearer token, if it has one. */
  token?: string;
  /** The library user's access hook (`read` is what announcing and listing need). */
  authorize?: AuthorizeHook;
  /**
   * How the host authenticates a request (throws when it does not): used instead of `token` to
   * tell whether a principal's credentials are still accepted (a JWT may expire).
   */
  authenticate?: (request: Request) => Promise<unknown>;
}

/**
 * What a principal may see, decided later than the request that identified it (when a run starts
 * and the socket announces it). The principal's own identifying headers — carried, encrypted, in
 * its join token — are put on a synthetic `GET <basePath>/threads/<id>` request, so the same
 * `authorize` hook that guards every route decides here too.
 */
export class PrincipalAccess {
  constructor(
    private readonly access: SurfaceAccess,
    private readonly basePath: string,
    private readonly logger: Logger,
  ) {}

  /** Whether anyone may read everything (no token, no hook): no per-thread checks needed. */
  get open(): boolean {
    return !this.access.token && !this.access.authorize;
  }

  /**
   * Whether the principal's credentials are still accepted: the server token (a rotated token
   * ends its join tokens), or whatever the host's `authenticate` accepts.
   */
  async admits(principal: Principal): Promise<boolean> {
    const authenticate = this.access.authenticate;
    if (authenticate) {
      try {
        await authenticate(new Request(this.threadUrl(""), { headers: principal.headers }));
        return true;
      } catch {
        return false;
      }
    }
    const expected = this.access.token;
    if (!expected) return true;
    const header = principal.headers.authorization ?? "";
    return header.startsWith("Bearer ") && tokenMatches(header.slice(7).trim(), expected);
  }

  async canRead(principal: Principal, threadId: string): Promise<boolean> {
    const hook = this.access.authorize;
    if (!hook) return await this.admits(principal);
    try {
      const url = this.threadUrl(threadId);
      return (
        (await this.admits(principal)) &&
        (await hook(new Request(url, { headers: principal.headers }), { threadId, action: "read" }))
      );
    } catch (error) {
      // A hook that throws denies; the socket must not fail for it.
      this.logger.debug({ err: error, threadId }, "authorize hook threw for a socket principal");
      return false;
    }
  }

  private threadUrl(threadId: string): string {
    return `http://threadline.invalid${this.basePath}/threads/${encodeURIComponent(threadId)}`;
  }
}
