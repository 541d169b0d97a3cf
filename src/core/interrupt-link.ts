import { QUERY_ACCESS_TOKEN } from "../protocol.js";
import { ThreadlineError } from "./errors.js";
import type { ThreadSummary } from "./types.js";

/**
 * Signed interrupt links (PROTOCOL.md §3.1.10): the rule of what a link lets its holder do — an
 * email link's or a chat-ops button's bearer answers exactly one pending interrupt of one
 * thread, with the statuses it names, until it expires. The HTTP layer signs and verifies the
 * token (`src/http/access/authenticate.ts`, HS256 with jose); this file decides.
 */

export type AnswerStatus = "resolved" | "cancelled";
export const ANSWER_STATUSES: readonly AnswerStatus[] = ["resolved", "cancelled"];

/** A link lasts a day unless asked otherwise, never past its interrupt's deadline. */
export const DEFAULT_LINK_TTL_MS = 24 * 60 * 60 * 1000;
export const MAX_LINK_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** What a link grants, as its token carries it. */
export interface InterruptLinkGrant {
  threadId: string;
  interruptId: string;
  statuses: AnswerStatus[];
  /**
   * The thread's last seq and creation time when the link was made: while interrupts are
   * pending no run starts on a thread, so these name the question the link answers (an agent
   * asking again under the same id later is another question, and a thread deleted and made
   * again another thread).
   */
  seq: number;
  createdAt: number;
  /** Whom the link was made for: the resume run's `startedBy` is `{ kind: "link", id: sub }`. */
  sub?: string;
}

export interface InterruptLinkRequest {
  threadId: string;
  interruptId: string;
  /** What the link may answer; default both. */
  statuses?: AnswerStatus[];
  /** Whom it is for (an email address, a chat user): recorded as who answered. */
  sub?: string;
  /** Lifetime; default a day, at most 30 days, never past the interrupt's `expiresAt`. */
  ttlMs?: number;
}

/** The grant of a new link and when it expires; the interrupt must be pending and not expired. */
export function linkGrant(
  head: ThreadSummary | null,
  req: InterruptLinkRequest,
  now: number,
): { grant: InterruptLinkGrant; expiresAt: number } {
  if (!head) throw new ThreadlineError("THREAD_NOT_FOUND", `unknown thread '${req.threadId}'`);
  const interrupt = head.interrupts.find((i) => i.id === req.interruptId);
  if (!interrupt) {
    throw new ThreadlineError(
      "INTERRUPT_NOT_FOUND",
      `thread '${req.threadId}' has no pending interrupt '${req.interruptId}'`,
      { details: { pending: head.interrupts.map((i) => i.id) } },
    );
  }
  const statuses = [...new Set(req.statuses ?? ANSWER_STATUSES)];
  if (statuses.length === 0 || statuses.some((s) => !ANSWER_STATUSES.includes(s))) {
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      "statuses: a non-empty list of resolved, cancelled",
    );
  }
  const ttl = req.ttlMs ?? DEFAULT_LINK_TTL_MS;
  if (!Number.isInteger(ttl) || ttl < 1_000 || ttl > MAX_LINK_TTL_MS) {
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      `ttlMs: an integer from 1000 to ${MAX_LINK_TTL_MS} (30 days)`,
    );
  }
  let expiresAt = now + ttl;
  const deadline = interrupt.expiresAt === undefined ? Number.NaN : Date.parse(interrupt.expiresAt);
  // Past its deadline the system answers the interrupt (§3.1.6): the link ends there.
  if (Number.isFinite(deadline)) {
    if (deadline <= now) {
      throw new ThreadlineError(
        "INTERRUPT_EXPIRED",
        `interrupt '${interrupt.id}' expired at ${interrupt.expiresAt}`,
        { details: { interruptId: interrupt.id, expiresAt: interrupt.expiresAt } },
      );
    }
    expiresAt = Math.min(expiresAt, deadline);
  }
  const grant: InterruptLinkGrant = {
    threadId: req.threadId,
    interruptId: req.interruptId,
    statuses,
    seq: head.lastSeq,
    createdAt: head.createdAt,
    ...(req.sub === undefined ? {} : { sub: req.sub }),
  };
  return { grant, expiresAt };
}

/**
 * Whether a link's holder may answer now with `status`: the status is one the link names and
 * the interrupt is still the one it was made for. (Which thread and interrupt a request may
 * touch at all is the access gate's check.)
 */
export function checkLinkUse(
  grant: InterruptLinkGrant,
  head: ThreadSummary | null,
  status: AnswerStatus | undefined,
): void {
  if (status !== undefined && !grant.statuses.includes(status)) {
    throw new ThreadlineError(
      "FORBIDDEN",
      `this link may only answer ${grant.statuses.join(" or ")}, not ${status}`,
    );
  }
  const same =
    head !== null &&
    head.createdAt === grant.createdAt &&
    head.lastSeq === grant.seq &&
    head.interrupts.some((i) => i.id === grant.interruptId);
  if (!same) {
    throw new ThreadlineError(
      "INTERRUPT_NOT_FOUND",
      `the interrupt '${grant.interruptId}' this link answers is no longer pending (it was answered or expired)`,
      { details: { interruptId: grant.interruptId } },
    );
  }
}

/** A signed link (`Threadline.interruptLink`): its token, the path it answers at, its end. */
export interface InterruptLink {
  token: string;
  path: string;
  expiresAt: number;
}

/** What making a link needs: the thread's head, the time, and the signer (the HTTP layer's). */
export interface InterruptLinkDeps {
  /** `store.threads.head`. */
  head(threadId: string): Promise<ThreadSummary | null>;
  now(): number;
  mint(grant: InterruptLinkGrant, expiresAt: number): Promise<string>;
}

/**
 * The path a link answers at: the interrupt's own route (GET shows it, POST answers it), the
 * token in the query, where the access gate looks for it (the token is URL-safe as it is).
 */
export const interruptLinkPath = (threadId: string, interruptId: string, token: string): string =>
  `/threads/${encodeURIComponent(threadId)}/interrupts/${encodeURIComponent(interruptId)}?${QUERY_ACCESS_TOKEN}=${token}`;

/** Makes a link: the grant decided by `linkGrant` on the thread as it is now, then signed. */
export async function makeInterruptLink(
  deps: InterruptLinkDeps,
  req: InterruptLinkRequest,
): Promise<InterruptLink> {
  const head = await deps.head(req.threadId);
  const { grant, expiresAt } = linkGrant(head, req, deps.now());
  const token = await deps.mint(grant, expiresAt);
  return { token, path: interruptLinkPath(req.threadId, req.interruptId, token), expiresAt };
}
