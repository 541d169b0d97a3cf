import type { AbstractAgent } from "@ag-ui/client";
import type { Logger } from "./logger.js";

/** Why a run's agent is stopped before it ends by itself. */
export type StopKind = "cancel" | "interrupt" | "lease" | "fault";

const REASONS: Record<StopKind, string> = {
  cancel: "cancelled",
  interrupt: "interrupted by a newer run",
  fault: "the agent emitted an event that cannot be stored",
  lease: "lease lost",
};

/**
 * The abort state of one executing run: the first stop wins (a cancel arriving after a lease
 * loss changes nothing), stops the agent and resolves `stopped`, which the executor races
 * against the agent's run.
 */
export class RunStop {
  /** The first stop and its reason (a cancelled run's RUN_ERROR message). */
  outcome: { kind: StopKind; reason: string } | undefined;
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private agent: AbstractAgent | undefined;

  constructor(private readonly logger: Logger) {
    this.stopped = new Promise<void>((r) => {
      this.resolveStopped = r;
    });
  }

  /** The agent a later stop aborts (the run's agent, once it was made). */
  attach(agent: AbstractAgent): void {
    this.agent = agent;
  }

  stop(kind: StopKind): void {
    if (this.outcome) return;
    this.outcome = { kind, reason: REASONS[kind] };
    try {
      this.agent?.abortRun();
    } catch (error) {
      this.logger.debug({ err: error }, "abortRun threw");
    }
    void this.agent?.detachActiveRun().catch(() => undefined);
    this.resolveStopped();
  }
}
