import { randomUUID } from "node:crypto";
import type { AbstractAgent, RunAgentInput } from "@ag-ui/client";
import type { RunActor } from "../core/types.js";

/**
 * What a `ThreadlineAgentRunner` knows of the request behind a run, for its `principal` option.
 * CopilotKit hands a runner only the run's agent (its per-request clone) and input: the headers
 * CopilotKit forwards to that agent (by default `authorization` and `x-*`) are here, and the
 * runtime's whole `Request` when the handler options went through `withThreadline`.
 */
export interface RunnerRequestContext {
  threadId: string;
  agentId: string;
  input: RunAgentInput;
  /** The agent's headers (lower-cased names): what CopilotKit forwarded from the request. */
  headers: Record<string, string>;
  /** The runtime's request (with `withThreadline`), e.g. to verify a session cookie. */
  request?: Request;
}

/** Who started a run, from its request; undefined: nobody (no `startedBy`). A throw refuses it. */
export type RunnerPrincipal = (
  ctx: RunnerRequestContext,
) => RunActor | undefined | Promise<RunActor | undefined>;

/** The header `withThreadline` adds to a run request so the runner finds the request again. */
export const HEADER_RUNNER_REQUEST = "x-threadline-runner-request";

/** How long an admitted request waits for its run before it is forgotten. */
const ADMIT_TTL_MS = 60_000;
/** Admitted requests kept at most (requests whose run never came are dropped first). */
const MAX_ADMITTED = 10_000;

/**
 * Requests of runs between the runtime's hook (`withThreadline`: `admit`) and the runner's
 * `run` (`take`). The key travels as a forwarded header CopilotKit copies onto the agent: a
 * random id, so a client cannot name another request (a key it sends is replaced, and one that
 * was never admitted finds nothing).
 */
export class RunnerRequests {
  private readonly admitted = new Map<string, { request: Request; at: number }>();

  /** The request to hand on: `request` with a fresh key header; remembers it under the key. */
  admit(request: Request, now = Date.now()): Request {
    this.expire(now);
    const key = randomUUID();
    const headers = new Headers(request.headers);
    headers.set(HEADER_RUNNER_REQUEST, key);
    this.admitted.set(key, { request, at: now });
    if (this.admitted.size > MAX_ADMITTED) {
      this.admitted.delete(this.admitted.keys().next().value!);
    }
    return new Request(request, { headers });
  }

  /**
   * The run's request context from its agent: the forwarded headers (the key header taken out,
   * so it never reaches the agent's backend) and the admitted request it names, if any.
   */
  take(agent: AbstractAgent): { headers: Record<string, string>; request?: Request } {
    const holder = agent as { headers?: unknown };
    const own =
      holder.headers && typeof holder.headers === "object"
        ? (holder.headers as Record<string, string>)
        : {};
    const headers: Record<string, string> = {};
    let key: string | undefined;
    const kept: Record<string, string> = {};
    for (const [name, value] of Object.entries(own)) {
      if (name.toLowerCase() === HEADER_RUNNER_REQUEST) {
        key = value;
        continue;
      }
      kept[name] = value;
      headers[name.toLowerCase()] = value;
    }
    if (key !== undefined) holder.headers = kept;
    const entry = key === undefined ? undefined : this.admitted.get(key);
    if (key !== undefined) this.admitted.delete(key);
    return { headers, ...(entry ? { request: entry.request } : {}) };
  }

  private expire(now: number): void {
    for (const [key, { at }] of this.admitted) {
      if (now - at < ADMIT_TTL_MS) break; // insertion order is admission order
      this.admitted.delete(key);
    }
  }
}
