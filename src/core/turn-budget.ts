import { performance } from "node:perf_hooks";

/**
 * Bounds the synchronous work one producer does in a turn of the event loop, and measures how
 * long its turns ran. An agent that emits events faster than they are processed (a loop without
 * an await, a burst of buffered events) would otherwise hold the event loop — every other run,
 * follower and request — for as long as its events take: past `budgetMs` in one turn, `spend()`
 * hands back a promise that resolves on the next turn, which the agent pipeline awaits.
 */
export class TurnBudget {
  private startedAt: number | undefined;
  /** The longest turn seen, in ms: from its first `spend()` to the end of the turn. */
  longestMs = 0;

  constructor(
    private readonly budgetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** One unit of work; a promise to wait on once this turn used up its budget. */
  spend(): Promise<void> | undefined {
    const now = this.now();
    if (this.startedAt === undefined) {
      this.startedAt = now;
      setImmediate(() => {
        const took = this.now() - (this.startedAt ?? now);
        if (took > this.longestMs) this.longestMs = took;
        this.startedAt = undefined;
      });
      return undefined;
    }
    if (now - this.startedAt < this.budgetMs) return undefined;
    return new Promise((resolve) => setImmediate(resolve));
  }
}
