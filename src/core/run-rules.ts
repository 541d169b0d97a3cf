/**
 * The run transition rules, as pure functions every store executes inside its own transaction or
 * script (the Redis Lua scripts mirror them; the conformance suite checks every store).
 */

/**
 * The fencing token a claim or a takeover issues: above the thread's current one, and above every
 * token a deleted thread ever held (`floor`, raised by `fenceFloorAfterDelete`), so that a fence
 * still held on a deleted thread never matches the new thread of the same id.
 */
export function nextFenceToken(floor: number, threadToken: number): number {
  return Math.max(floor, threadToken) + 1;
}

/** The store-wide floor of fencing tokens once a thread holding `threadToken` is deleted. */
export function fenceFloorAfterDelete(floor: number, threadToken: number): number {
  return Math.max(floor, threadToken);
}

/**
 * Whether a named lease (`RecordStore.lease`) may be given to `owner` now: nobody holds it, its
 * holder's lease expired (`expiresAt <= now`), or `owner` holds it already (a renewal).
 */
export function leaseAvailable(
  current: { owner: string; expiresAt: number } | undefined,
  owner: string,
  now: number,
): boolean {
  return !current || current.expiresAt <= now || current.owner === owner;
}
