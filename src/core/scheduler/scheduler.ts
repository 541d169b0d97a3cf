import { randomUUID } from "node:crypto";
import type { StartRunRequest, StartRunResult } from "../coordinator.js";
import { ThreadlineError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { scheduleRetentionMetadata, syncScheduleRetention } from "../retention.js";
import type { ThreadStore } from "../store.js";
import type { Telemetry } from "../telemetry.js";
import type { RunTrigger } from "../types.js";
import { type SchedulerClock, systemClock, type TimerHandle } from "./clock.js";
import { nextFireAfter, toIso } from "./next-fire.js";
import {
  buildRecord,
  definitionOf,
  materializeInput,
  parseScheduleId,
  parseScheduleInput,
  parseSchedulePatch,
  patchedInput,
  redefine,
} from "./schedule-records.js";
import {
  type ScheduleInput,
  type ScheduleRecord,
  TICK_CLAIM_KEEP_MS,
  threadIdForTick,
  tickClaimKey,
  tickRunId,
  triggerKindOf,
} from "./schedule-types.js";

export interface SchedulerOptions {
  store: ThreadStore;
  startRun(req: StartRunRequest): Promise<StartRunResult>;
  agentIds(): string[];
  /** Owner recorded with tick claims. */
  instanceId: string;
  clock?: SchedulerClock;
  logger?: Logger;
  /** Schedules declared in options: validated now, upserted by id at `start`. */
  declared?: readonly ScheduleInput[];
  /** How often the store is re-read for schedules other processes changed. Default 10 s. */
  syncMs?: number;
  /** A tick at most this late still fires as on time; later ones follow `catchUp`. Default 5 s. */
  misfireGraceMs?: number;
  /** Observers of ticks (lag, misses). */
  telemetry?: Telemetry;
}

interface Entry {
  record: ScheduleRecord;
  timer?: TimerHandle;
}

/** What firing a tick did; null when another process had claimed it. */
type Fired = { threadId: string; runId?: string; error?: string } | null;

/**
 * Fires schedules: one timer per schedule for its next tick. Each tick is claimed in the store
 * (`schedule:<id>:<fireAt>`) before its run starts, so processes sharing a store fire it once.
 * Operations on one schedule (ticks, edits, re-syncs) run one at a time.
 */
export class Scheduler {
  readonly clock: SchedulerClock;
  private readonly store: ThreadStore;
  private readonly logger: Logger;
  private readonly declared: ScheduleInput[];
  private readonly syncMs: number;
  private readonly graceMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private syncTimer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly opts: SchedulerOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.syncMs = opts.syncMs ?? 10_000;
    this.graceMs = opts.misfireGraceMs ?? 5_000;
    this.declared = validateDeclared(opts.declared ?? [], (id) => this.checkAgent(id));
  }

  // --- managing schedules ----------------------------------------------------------------------

  async list(): Promise<ScheduleRecord[]> {
    const all = await this.store.records.listSchedules<ScheduleRecord>();
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<ScheduleRecord> {
    const record = await this.store.records.getSchedule<ScheduleRecord>(parseScheduleId(id));
    if (!record) throw notFound(id);
    return record;
  }

  /** Validates and stores a new schedule (409 when the id exists) and arms its first tick. */
  async create(body: unknown): Promise<ScheduleRecord> {
    const input = parseScheduleInput(body);
    this.checkAgent(input.agentId);
    const id = input.id ?? randomUUID();
    return this.serial(id, async () => {
      if (await this.store.records.getSchedule(id)) {
        throw new ThreadlineError("CONFLICT", `schedule '${id}' already exists`);
      }
      const record = buildRecord(input, id, this.clock.now());
      await this.store.records.putSchedule(record);
      this.arm(record);
      return record;
    });
  }

  /** Applies a patch (`{ paused }` and definition fields); takes effect at once. */
  async update(id: string, body: unknown): Promise<ScheduleRecord> {
    parseScheduleId(id);
    const patch = parseSchedulePatch(body);
    if (patch.agentId) this.checkAgent(patch.agentId);
    return this.serial(id, async () => {
      const current = await this.store.records.getSchedule<ScheduleRecord>(id);
      if (!current) throw notFound(id);
      const now = this.clock.now();
      const next = redefine(current, buildRecord(patchedInput(current, patch), id, now), now);
      if (next !== current) await this.store.records.putSchedule(next);
      await this.adopt(next);
      return next;
    });
  }

  async remove(id: string): Promise<void> {
    parseScheduleId(id);
    await this.serial(id, async () => {
      const deleted = await this.store.records.deleteSchedule(id);
      this.forget(id);
      if (!deleted) throw notFound(id);
    });
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /** Upserts the declared schedules, arms every stored one, and starts re-syncing. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const input of this.declared) {
      await this.serial(input.id!, () => this.upsertDeclared(input));
    }
    await this.sync();
    this.armSync();
  }

  /** Cancels every timer and waits for ticks in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.syncTimer?.cancel();
    for (const entry of this.entries.values()) entry.timer?.cancel();
    await Promise.all([...this.queues.values()]);
  }

  /** Re-reads the store: arms schedules created or changed elsewhere, drops deleted ones. */
  async sync(): Promise<void> {
    const records = await this.store.records.listSchedules<ScheduleRecord>();
    const ids = new Set(records.map((r) => r.id));
    const work = records
      .filter((r) => !this.isCurrent(r))
      .map((r) =>
        this.serial(r.id, async () => {
          // Re-read under the lock: a local edit may have landed since the list.
          const fresh = await this.store.records.getSchedule<ScheduleRecord>(r.id);
          if (!fresh) this.forget(r.id);
          else if (!this.isCurrent(fresh)) await this.adopt(fresh);
        }),
      );
    for (const id of this.entries.keys()) {
      if (!ids.has(id)) {
        work.push(
          this.serial(id, async () => {
            if (!(await this.store.records.getSchedule(id))) this.forget(id);
          }),
        );
      }
    }
    await Promise.all(work);
  }

  // --- ticking ---------------------------------------------------------------------------------

  private isCurrent(r: ScheduleRecord): boolean {
    const local = this.entries.get(r.id)?.record;
    return local?.revision === r.revision && definitionOf(local) === definitionOf(r);
  }

  /** Takes a record as this process's view: fires it if its tick is due, else arms the timer. */
  private async adopt(record: ScheduleRecord): Promise<void> {
    const fireAt = record.nextFireAt === null ? null : Date.parse(record.nextFireAt);
    if (this.running && !record.paused && fireAt !== null && fireAt <= this.clock.now()) {
      await this.due(record, fireAt);
    } else {
      this.arm(record);
    }
  }

  private arm(record: ScheduleRecord): void {
    this.entries.get(record.id)?.timer?.cancel();
    const entry: Entry = { record };
    this.entries.set(record.id, entry);
    if (!this.running || record.paused || record.nextFireAt === null) return;
    const fireAt = Date.parse(record.nextFireAt);
    entry.timer = this.clock.setTimer(
      () => this.serial(record.id, () => this.onTimer(entry, fireAt)),
      fireAt - this.clock.now(),
    );
  }

  private forget(id: string): void {
    this.entries.get(id)?.timer?.cancel();
    this.entries.delete(id);
  }

  private async onTimer(entry: Entry, fireAt: number): Promise<void> {
    const id = entry.record.id;
    // Re-armed or dropped since this timer was set: the newer state wins.
    if (!this.running || this.entries.get(id) !== entry) return;
    const stored = await this.store.records.getSchedule<ScheduleRecord>(id);
    if (!stored) return this.forget(id);
    if (stored.revision !== entry.record.revision || stored.paused) return this.adopt(stored);
    await this.due(stored, fireAt);
  }

  /** Handles the tick at `fireAt`: fire it (on time, or missed with catch-up `once`) or skip it. */
  private async due(record: ScheduleRecord, fireAt: number): Promise<void> {
    const now = this.clock.now();
    const missed = now - fireAt > this.graceMs;
    let fired: Fired | undefined;
    if (!missed || record.catchUp === "once") fired = await this.fire(record, fireAt, missed);
    else this.logger.info({ scheduleId: record.id, fireAt: toIso(fireAt) }, "skipped missed ticks");
    // Only the process that claimed the tick (or skipped it) reports it.
    if (fired !== null) {
      if (missed) this.opts.telemetry?.scheduleMissed?.();
      if (fired) this.opts.telemetry?.scheduleFired?.((now - fireAt) / 1000);
    }
    const next = nextFireAfter(record, Math.max(now, fireAt));
    const updated: ScheduleRecord = { ...record, nextFireAt: next === null ? null : toIso(next) };
    if (fired) {
      updated.lastFiredAt = toIso(fireAt);
      updated.lastThreadId = fired.threadId;
      delete updated.lastRunId;
      delete updated.lastError;
      if (fired.runId) updated.lastRunId = fired.runId;
      if (fired.error) updated.lastError = { at: toIso(now), message: fired.error };
    }
    // Who lost the claim leaves the record to the winner (no racing writes of lastFiredAt).
    if (fired === null) this.arm(updated);
    else await this.commit(updated);
  }

  /**
   * Starts the tick's run through the coordinator (like any client's run). The run id is derived
   * from `(scheduleId, fireAt)` and the store refuses a second run with the same id, so starting
   * the run IS the claim: one durable step, no window in which a crash could lose a claimed tick.
   * A refusal for another reason (busy thread under `reject`, unknown agent) is recorded by
   * whichever process wins the tick's claim key.
   */
  private async fire(record: ScheduleRecord, fireAtMs: number, catchUp: boolean): Promise<Fired> {
    const fireAt = toIso(fireAtMs);
    const threadId = threadIdForTick(record, fireAt);
    const trigger: RunTrigger = {
      kind: triggerKindOf(record),
      scheduleId: record.id,
      fireAt,
      ...(catchUp ? { source: "catch-up" } : {}),
    };
    try {
      if (record.newThreadPerTick) {
        await this.store.threads.ensure(threadId, {
          scheduleId: record.id,
          fireAt,
          ...scheduleRetentionMetadata(record.retention),
        });
      } else if (record.retention) {
        await syncScheduleRetention(this.store, threadId, record.retention);
      }
      const result = await this.opts.startRun({
        threadId,
        agentId: record.agentId,
        runId: tickRunId(record.id, fireAt),
        input: materializeInput(record.input),
        trigger,
        multitask: record.multitask,
      });
      this.logger.info({ scheduleId: record.id, fireAt, runId: result.runId }, "schedule fired");
      return { threadId, runId: result.runId };
    } catch (error) {
      if (ThreadlineError.is(error, "CONFLICT")) return null;
      const won = await this.store.records.claim(tickClaimKey(record.id, fireAt), {
        owner: this.opts.instanceId,
        now: this.clock.now(),
        leaseMs: TICK_CLAIM_KEEP_MS,
      });
      if (!won) return null;
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn({ err: error, scheduleId: record.id, fireAt }, "scheduled run not started");
      return { threadId, error: message };
    }
  }

  /** Persists firing state unless the definition changed meanwhile (then that one is adopted). */
  private async commit(updated: ScheduleRecord): Promise<void> {
    const stored = await this.store.records.getSchedule<ScheduleRecord>(updated.id);
    if (!stored) return this.forget(updated.id);
    if (stored.revision !== updated.revision) return this.adopt(stored);
    await this.store.records.putSchedule(updated);
    this.arm(updated);
  }

  private async upsertDeclared(input: ScheduleInput): Promise<void> {
    const id = input.id!;
    const now = this.clock.now();
    const existing = await this.store.records.getSchedule<ScheduleRecord>(id);
    if (!existing) {
      await this.store.records.putSchedule(buildRecord(input, id, now));
      return;
    }
    // A pause made through the API survives restarts unless the config says otherwise.
    const built = buildRecord({ ...input, paused: input.paused ?? existing.paused }, id, now);
    const next = redefine(existing, built, now);
    if (next !== existing) await this.store.records.putSchedule(next);
  }

  private armSync(): void {
    if (!this.running) return;
    this.syncTimer = this.clock.setTimer(
      () =>
        this.sync()
          .catch((error) => this.logger.warn({ err: error }, "schedule sync failed"))
          .finally(() => this.armSync()),
      this.syncMs,
    );
  }

  private checkAgent(agentId: string): void {
    const known = this.opts.agentIds();
    if (!known.includes(agentId)) {
      throw new ThreadlineError(
        "VALIDATION_FAILED",
        `unknown agent '${agentId}'; known agents: ${known.join(", ") || "(none)"}`,
      );
    }
  }

  /** Runs `fn` after every earlier operation on the same schedule. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const result = (this.queues.get(id) ?? Promise.resolve()).then(fn);
    const tail = result.catch((error) => {
      if (!ThreadlineError.is(error))
        this.logger.warn({ err: error, id }, "schedule operation failed");
    });
    this.queues.set(id, tail);
    void tail.then(() => {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return result;
  }
}

function notFound(id: string): ThreadlineError {
  return new ThreadlineError("SCHEDULE_NOT_FOUND", `unknown schedule '${id}'`);
}

function validateDeclared(
  declared: readonly ScheduleInput[],
  checkAgent: (id: string) => void,
): ScheduleInput[] {
  const seen = new Set<string>();
  return declared.map((value, i) => {
    const input = parseScheduleInput(value, `schedules[${i}]`);
    if (!input.id) {
      throw new ThreadlineError(
        "VALIDATION_FAILED",
        `invalid schedules[${i}]: schedules declared in options need an \`id\` (they are upserted by it)`,
      );
    }
    if (seen.has(input.id)) {
      throw new ThreadlineError("VALIDATION_FAILED", `schedule id '${input.id}' is declared twice`);
    }
    seen.add(input.id);
    checkAgent(input.agentId);
    return input;
  });
}
