import { describe, expect, it } from "vitest";
import { TurnBudget } from "../../src/core/turn-budget.js";

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe("TurnBudget", () => {
  it("lets work through until the turn used its budget, then makes it wait a turn", async () => {
    let now = 0;
    const budget = new TurnBudget(10, () => now);
    expect(budget.spend()).toBeUndefined();
    now = 9;
    expect(budget.spend()).toBeUndefined();
    now = 10;
    const wait = budget.spend();
    expect(wait).toBeInstanceOf(Promise);
    now = 25;
    await wait;
    // A new turn, a new budget; the one before is measured.
    expect(budget.longestMs).toBe(25);
    expect(budget.spend()).toBeUndefined();
    await nextTurn();
    expect(budget.longestMs).toBe(25);
  });

  it("a producer that awaits what spend() returns never holds one turn much past the budget", async () => {
    let now = 0;
    const budget = new TurnBudget(10, () => now);
    const perTurn: number[] = [0];
    let turn = 0;
    let ticking = true;
    const tick = () => {
      if (!ticking) return;
      turn += 1;
      perTurn[turn] = 0;
      setImmediate(tick);
    };
    setImmediate(tick);
    for (let i = 0; i < 1_000; i++) {
      now += 1; // each unit of work costs 1 ms
      perTurn[turn] = (perTurn[turn] ?? 0) + 1;
      await budget.spend();
    }
    ticking = false;
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(11);
    expect(budget.longestMs).toBeLessThanOrEqual(11);
  });
});
