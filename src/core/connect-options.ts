import { ThreadlineError } from "../core/errors.js";
import {
  HEADER_AFTER,
  HEADER_FOLLOW,
  HEADER_REPLAY,
  REPLAY_MODES,
  type ReplayMode,
} from "../protocol.js";

/**
 * How a connect asks to be followed. CopilotKit's runtime hands the runner nothing of the
 * connect body but the thread id; it does forward the request's `x-*` headers (its default
 * header policy), so the options travel as headers:
 * - `X-Threadline-Follow: true` keeps the stream open across every future run of the thread;
 * - `X-Threadline-After: <seq>` resumes after that cursor (replay `full` from there);
 * - `X-Threadline-Replay: full | compact | none` overrides the replay mode.
 */
export { HEADER_AFTER, HEADER_FOLLOW, HEADER_REPLAY };

export interface ConnectOptions {
  follow: boolean;
  after: number | undefined;
  replay: ReplayMode | undefined;
}

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name.toLowerCase()) return value.trim();
  }
  return undefined;
}

/** Reads the connect options; a malformed value is a BAD_REQUEST, not silently ignored. */
export function connectOptions(
  headers: Record<string, string> | undefined,
  followDefault: boolean,
): ConnectOptions {
  const follow = header(headers, HEADER_FOLLOW);
  const after = header(headers, HEADER_AFTER);
  const replay = header(headers, HEADER_REPLAY);
  if (follow !== undefined && !/^(true|false|1|0)$/i.test(follow)) {
    throw new ThreadlineError("BAD_REQUEST", `${HEADER_FOLLOW} must be true or false`);
  }
  if (after !== undefined && !/^\d{1,15}$/.test(after)) {
    throw new ThreadlineError("BAD_REQUEST", `${HEADER_AFTER} must be a non-negative integer`);
  }
  if (replay !== undefined && !(REPLAY_MODES as readonly string[]).includes(replay)) {
    throw new ThreadlineError("BAD_REQUEST", `${HEADER_REPLAY} must be one of ${REPLAY_MODES}`);
  }
  return {
    follow: follow === undefined ? followDefault : /^(true|1)$/i.test(follow),
    after: after === undefined ? undefined : Number(after),
    replay: replay as ReplayMode | undefined,
  };
}
