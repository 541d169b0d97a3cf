import { ThreadlineError } from "./errors.js";
import type { InterruptLinkGrant } from "./interrupt-link.js";
import type { ThreadStore } from "./store.js";
import type { RunActor, ThreadSummary } from "./types.js";

/**
 * Per-user access to threads: the one rule (PROTOCOL.md §7.1) that every route, list and the
 * CopilotKit socket execute. A route states what it needs (`src/http/access/route-table.ts`);
 * this file decides.
 */

/** The thread metadata key naming the principal (a JWT's `sub`) a thread belongs to. */
export const OWNER_KEY = "owner";

export type AccessAction = "read" | "write" | "admin";

/**
 * Who a request speaks for:
 * - `open`: the server has no credentials configured: everyone may do everything;
 * - `token`: the holder of the server's static bearer token: every thread, every route;
 * - `user`: a verified JWT: the threads it owns (metadata `owner` = `sub`) and those under the
 *   id prefixes of its `threads` claim.
 * A signed follow URL (`followOnly`) speaks for the principal that minted it, but only to
 * follow that one thread.
 */
export interface Principal {
  /** `link`: the bearer of a signed interrupt link (`interruptOnly`), see interrupt-link.ts. */
  kind: "open" | "token" | "user" | "link";
  /** A user's `sub`; `token` / `anonymous` for the others. */
  id: string;
  /** Thread id prefixes the user's token grants (its `threads` claim), if it has one. */
  threads?: readonly string[];
  /** Set for a signed follow URL: the only thread it may follow. */
  followOnly?: string;
  /** Set for a signed interrupt link: the one interrupt it may answer, and how. */
  interruptOnly?: InterruptLinkGrant;
  /** A user's verified JWT claims (for `authorize` hooks). */
  claims?: Record<string, unknown>;
}

export const OPEN_PRINCIPAL: Principal = Object.freeze({ kind: "open", id: "anonymous" });
export const TOKEN_PRINCIPAL: Principal = Object.freeze({ kind: "token", id: "token" });

/** Open servers and the static token see and do everything. */
export const isAdmin = (p: Principal): boolean => p.kind === "open" || p.kind === "token";

/** What a run records of the principal that started or cancelled it (nothing on open servers). */
export function actorOf(p: Principal | undefined): RunActor | undefined {
  if (!p || p.kind === "open") return undefined;
  return { kind: p.kind, id: p.id };
}

/**
 * May `p` use (read, write) thread `threadId`? `thread` is its summary, null when it does not
 * exist yet: a user may then create it unless its `threads` claim leaves the id out.
 */
export function mayUseThread(
  p: Principal,
  threadId: string,
  thread: Pick<ThreadSummary, "metadata"> | null,
): boolean {
  if (isAdmin(p)) return true;
  if (p.threads?.some((prefix) => threadId.startsWith(prefix))) return true;
  if (thread === null) return p.threads === undefined;
  return thread.metadata[OWNER_KEY] === p.id;
}

/** The owner is the server's to set: a user may not write it (and so give or take a thread). */
export function checkMetadataWrite(
  p: Principal,
  metadata: Record<string, unknown> | undefined,
): void {
  if (isAdmin(p) || !metadata || !Object.hasOwn(metadata, OWNER_KEY)) return;
  throw new ThreadlineError(
    "FORBIDDEN",
    `metadata '${OWNER_KEY}' is set by the server (to the creating user's sub)`,
  );
}

export function forbidden(action: AccessAction, threadId?: string): ThreadlineError {
  return new ThreadlineError(
    "FORBIDDEN",
    `not allowed to ${action}${threadId === undefined ? "" : ` thread '${threadId}'`}`,
  );
}

/**
 * Makes sure the thread exists before `p` writes to it; a thread a user creates is theirs
 * (`owner` = sub). Checked again after the create: when two users create the same id at once,
 * the one who lost gets FORBIDDEN rather than the other's thread.
 */
export async function claimThread(
  store: ThreadStore,
  p: Principal,
  threadId: string,
  metadata?: Record<string, unknown>,
): Promise<ThreadSummary> {
  checkMetadataWrite(p, metadata);
  const owned = p.kind === "user" ? { ...metadata, [OWNER_KEY]: p.id } : metadata;
  const summary = await store.threads.ensure(threadId, owned);
  if (!mayUseThread(p, threadId, summary)) throw forbidden("write", threadId);
  return summary;
}
