import { ThreadlineError } from "./errors.js";
import type { InterruptExpirerOptions } from "./interrupt-expirer.js";
import { type ExpiryAction, parseExpiryAction } from "./interrupt-expiry.js";

/**
 * Interrupt expiry as a server is configured (`createThreadline`'s `interrupts`, the config
 * file's, PROTOCOL.md §3.1.8): the server's action, each agent's, how often the due index is read.
 */
export interface ExpiryOptions {
  onExpiry?: ExpiryAction;
  agents?: Record<string, ExpiryAction>;
  pollMs?: number;
}

/** The scheduler settings expiry follows unless told otherwise. */
export interface ExpirySchedulerOptions {
  syncMs?: number;
  misfireGraceMs?: number;
}

/**
 * The server's action from where an operator set it, the first source that has a value winning
 * (the CLI: the `--interrupt-expiry` flag, then `THREADLINE_INTERRUPT_EXPIRY`); each is checked
 * and named in its error. Undefined when none is set: the config file's, else `resume`, applies.
 */
export function configuredExpiryAction(
  sources: readonly (readonly [where: string, value: unknown])[],
): ExpiryAction | undefined {
  for (const [where, value] of sources) {
    if (value !== undefined) return parseExpiryAction(value, where);
  }
  return undefined;
}

/**
 * The expirer's settings from the server's options, each checked once (a JavaScript caller's typo
 * fails `createThreadline`, not the first expiry): the actions, and the poll, which defaults to
 * the schedule sync (interrupts raised elsewhere are learned as often as schedules changed
 * elsewhere), as the misfire grace follows the scheduler's.
 */
export function expirySettings(
  options: ExpiryOptions | undefined,
  scheduler: ExpirySchedulerOptions = {},
): Pick<InterruptExpirerOptions, "onExpiry" | "agents" | "pollMs" | "misfireGraceMs"> {
  const { onExpiry, agents, pollMs: ownPoll } = options ?? {};
  if (onExpiry !== undefined) parseExpiryAction(onExpiry, "interrupts.onExpiry");
  for (const [agentId, action] of Object.entries(agents ?? {})) {
    parseExpiryAction(action, `interrupts.agents.${agentId}`);
  }
  if (
    ownPoll !== undefined &&
    !(typeof ownPoll === "number" && ownPoll > 0 && ownPoll < Infinity)
  ) {
    throw new ThreadlineError(
      "VALIDATION_FAILED",
      `interrupts.pollMs must be a positive number of milliseconds, got ${JSON.stringify(ownPoll)}`,
    );
  }
  const pollMs = ownPoll ?? scheduler.syncMs;
  return {
    ...(onExpiry ? { onExpiry } : {}),
    ...(agents ? { agents } : {}),
    ...(pollMs === undefined ? {} : { pollMs }),
    ...(scheduler.misfireGraceMs === undefined ? {} : { misfireGraceMs: scheduler.misfireGraceMs }),
  };
}
