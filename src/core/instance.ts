import { randomUUID } from "node:crypto";
import { hostname } from "node:os";

/**
 * Lease owners are `host:pid:nonce`. On one host (the embedded SQLite case) that lets a
 * restarted process see at once that a lease's holder is gone, instead of waiting for the
 * lease to expire — a pid that is not alive, or our own pid with another nonce (containers
 * often restart as pid 1), cannot be running the run any more.
 */
export function newInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * Instances alive in this process. Several coordinators may share one process (tests, or an app
 * embedding two runtimes on one store): a lease held by a live sibling is not a dead
 * predecessor's, even though the pid matches.
 */
const live = new Set<string>();

/** Marks an instance id as running in this process until `release` is called. */
export function holdInstance(id: string): { release(): void } {
  live.add(id);
  return { release: () => live.delete(id) };
}

export function isOwnerGone(owner: string, self: string): boolean {
  if (owner === self || live.has(owner)) return false;
  const [host, pidText] = owner.split(":");
  const [myHost, myPid] = self.split(":");
  if (host !== myHost || pidText === undefined) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (String(pid) === myPid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM means the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}
