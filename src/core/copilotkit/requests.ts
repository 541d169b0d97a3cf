import { z } from "zod";
import {
  FORWARDED_PROPS_KEY,
  HEADER_AFTER,
  HEADER_FOLLOW,
  HEADER_LAST_EVENT_ID,
  HEADER_REPLAY,
  REPLAY_MODES,
  type ReplayMode,
} from "../../protocol.js";
import { ThreadlineError } from "../errors.js";
import { replayDefault } from "../follow.js";
import { MULTITASK_STRATEGIES, type MultitaskStrategy } from "../types.js";

/**
 * What a CopilotKit request asks of Threadline, read the same way by the server's own CopilotKit
 * routes and by `ThreadlineAgentRunner` (which only gets the request's forwarded `x-*` headers
 * for a connect: CopilotKit's runtime hands the runner nothing else of the connect body).
 *
 * - follow: `?follow=` (routes only), then `forwardedProps.threadline.follow`, then the
 *   `X-Threadline-Follow` header. Absent everywhere: the stream ends like CopilotKit's own
 *   runners end theirs — a stock client must never get an endless stream it did not ask for.
 * - cursor: `Last-Event-ID`, then a numeric `lastSeenEventId` in the body (other values are
 *   CopilotKit's own event ids, not seqs, and are ignored), then `X-Threadline-After`.
 * - replay: `forwardedProps.threadline.replay`, then `X-Threadline-Replay`; default `compact`
 *   without a cursor, `full` with one.
 * A malformed value is a BAD_REQUEST / VALIDATION_FAILED, never silently ignored.
 */
export interface ConnectRequest {
  follow: boolean;
  after: number | undefined;
  replay: ReplayMode;
}

/** `forwardedProps.threadline`: what a client adds to a CopilotKit run or connect body. */
const clientPropsSchema = z
  .looseObject({
    follow: z.boolean().optional(),
    multitask: z.enum(MULTITASK_STRATEGIES).optional(),
    replay: z.enum(REPLAY_MODES).optional(),
  })
  .optional();

export type ClientProps = NonNullable<z.infer<typeof clientPropsSchema>>;

/** Reads `forwardedProps.threadline`; a bad value is VALIDATION_FAILED. */
export function clientProps(forwardedProps: unknown): ClientProps {
  const props =
    forwardedProps && typeof forwardedProps === "object"
      ? (forwardedProps as Record<string, unknown>)[FORWARDED_PROPS_KEY]
      : undefined;
  const parsed = clientPropsSchema.safeParse(props);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = [FORWARDED_PROPS_KEY, ...(issue?.path ?? [])].join(".");
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      `invalid forwardedProps.${where}: ${issue?.message ?? "bad value"}`,
    );
  }
  return parsed.data ?? {};
}

/** A header by name, whatever its case (CopilotKit forwards them lower-cased). */
function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value.trim();
  }
  return undefined;
}

function parseBool(value: string, what: string): boolean {
  if (/^(true|1)$/i.test(value)) return true;
  if (/^(false|0)$/i.test(value)) return false;
  throw new ThreadlineError("BAD_REQUEST", `${what} must be true or false, got '${value}'`);
}

function parseSeq(value: string, what: string): number {
  if (!/^\d{1,15}$/.test(value)) {
    throw new ThreadlineError("BAD_REQUEST", `${what} must be a non-negative integer (a seq)`);
  }
  return Number(value);
}

export interface ConnectRequestSource {
  /** Request headers (all of them, or the `x-*` ones a CopilotRuntime forwards). */
  headers?: Record<string, string>;
  /** `?follow=` of Threadline's own connect route. */
  queryFollow?: string | undefined;
  /** The body's `forwardedProps`. */
  forwardedProps?: unknown;
  /** The body's `lastSeenEventId`. */
  lastSeenEventId?: unknown;
}

export function connectRequest(source: ConnectRequestSource): ConnectRequest {
  const props = clientProps(source.forwardedProps);
  const { headers } = source;
  const followHeader = header(headers, HEADER_FOLLOW);
  const follow =
    source.queryFollow !== undefined && source.queryFollow !== ""
      ? parseBool(source.queryFollow, "follow")
      : (props.follow ??
        (followHeader === undefined ? false : parseBool(followHeader, HEADER_FOLLOW)));

  const lastEventId = header(headers, HEADER_LAST_EVENT_ID);
  const afterHeader = header(headers, HEADER_AFTER);
  const lastSeen = source.lastSeenEventId;
  const after =
    lastEventId !== undefined
      ? parseSeq(lastEventId, HEADER_LAST_EVENT_ID)
      : typeof lastSeen === "string" && /^\d{1,15}$/.test(lastSeen)
        ? Number(lastSeen)
        : afterHeader !== undefined
          ? parseSeq(afterHeader, HEADER_AFTER)
          : undefined;

  const replayHeader = header(headers, HEADER_REPLAY);
  if (replayHeader !== undefined && !(REPLAY_MODES as readonly string[]).includes(replayHeader)) {
    throw new ThreadlineError("BAD_REQUEST", `${HEADER_REPLAY} must be one of ${REPLAY_MODES}`);
  }
  const replay = props.replay ?? (replayHeader as ReplayMode | undefined) ?? replayDefault(after);
  return { follow, after, replay };
}

/** The multitask strategy of a CopilotKit run: `forwardedProps.threadline.multitask`, or the default. */
export function runMultitask(
  forwardedProps: unknown,
  fallback: MultitaskStrategy,
): MultitaskStrategy {
  return clientProps(forwardedProps).multitask ?? fallback;
}
