import type { Logger } from "../core/logger.js";
import type { RunStartNotice, ThreadStore, Unsubscribe } from "../core/store.js";
import type { PrincipalAccess } from "./access.js";
import type { Principal } from "./join-token.js";
import { threadRecord } from "./thread-records.js";
import {
  EVENT_RUN_ACTIVITY,
  EVENT_THREAD_METADATA,
  type RunActivityPayload,
  type ThreadMetadataPayload,
} from "./wire.js";

/** A joined `user_meta:<code>` channel: where one principal's notifications go. */
export interface ActivityChannel {
  readonly principal: Principal;
  push(event: string, payload: unknown): void;
}

/**
 * How far back a channel join looks for runs that already started. It closes CopilotKit's
 * first-connect gap: the chat's first `/connect` happens before its socket joined, so a run that
 * starts (and maybe ends) in between would be missed. Generous: a wake for a run the chat already
 * has costs one extra snapshot connect.
 */
export const RECENT_STARTS_MS = 30_000;
const MAX_RECENT = 1_000;
const MAX_AGENT_CACHE = 1_000;

interface RecentStart extends RunStartNotice {
  at: number;
}

/**
 * The run-activity announcer. One store-wide run-start signal (`subscribeRunStarts`: every run of
 * every instance on a shared store) fans out to the joined channels whose principal may read the
 * thread, as CopilotKit's `thread_run_activity` (which wakes a stock chat: it re-connects) and
 * `thread_metadata` (which keeps an open thread list current). A join also announces every run
 * running then, and those started in the last `RECENT_STARTS_MS`.
 */
export class RunActivity {
  private readonly channels = new Set<ActivityChannel>();
  private readonly recent: RecentStart[] = [];
  private readonly agents = new Map<string, string>();
  private off: Unsubscribe | undefined;

  constructor(
    private readonly store: ThreadStore,
    private readonly access: PrincipalAccess,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.off ??= this.store.threads.subscribeRunStarts((n) => {
      this.started(n).catch((error) =>
        this.logger.warn({ err: error, threadId: n.threadId }, "run activity announcement failed"),
      );
    });
  }

  get channelCount(): number {
    return this.channels.size;
  }

  async join(channel: ActivityChannel): Promise<void> {
    this.channels.add(channel);
    const cutoff = this.now() - RECENT_STARTS_MS;
    const runs = new Map<string, { threadId: string; runId: string; agentId?: string }>();
    for (const r of this.recent) {
      if (r.at >= cutoff) runs.set(`${r.threadId}\u0000${r.runId}`, r);
    }
    // Every running run, of every instance (the store's view), not only those seen here.
    for (const r of await this.store.runs.listStale(Number.MAX_SAFE_INTEGER, { all: true })) {
      runs.set(`${r.threadId}\u0000${r.runId}`, r);
    }
    for (const run of runs.values()) {
      if (!this.channels.has(channel)) return;
      if (!(await this.access.canRead(channel.principal, run.threadId))) continue;
      const agentId = run.agentId ?? (await this.agentOf(run.threadId, run.runId));
      channel.push(EVENT_RUN_ACTIVITY, activity(run.threadId, run.runId, agentId));
    }
  }

  leave(channel: ActivityChannel): void {
    this.channels.delete(channel);
  }

  /**
   * Sends `thread_metadata` built per principal (null: nothing for that one) to every channel
   * whose principal may read the thread. Used by the thread mutations.
   */
  async pushMetadata(threadId: string, payload: ThreadMetadataPayload): Promise<void> {
    for (const [principal, channels] of this.byPrincipal()) {
      if (!(await this.access.canRead(principal, threadId))) continue;
      for (const c of channels) c.push(EVENT_THREAD_METADATA, payload);
    }
  }

  close(): void {
    this.off?.();
    this.off = undefined;
    this.channels.clear();
  }

  private async started(n: RunStartNotice): Promise<void> {
    const at = this.now();
    this.recent.push({ ...n, at });
    while (this.recent.length > MAX_RECENT || (this.recent[0]?.at ?? at) < at - RECENT_STARTS_MS) {
      this.recent.shift();
    }
    if (this.channels.size === 0) return;
    const agentId = await this.agentOf(n.threadId, n.runId);
    const groups = this.byPrincipal();
    let metadata: ThreadMetadataPayload | null | undefined;
    for (const [principal, channels] of groups) {
      if (!(await this.access.canRead(principal, n.threadId))) continue;
      for (const c of channels) c.push(EVENT_RUN_ACTIVITY, activity(n.threadId, n.runId, agentId));
      // The run moved the thread to the top of its list (or created it): tell open lists.
      metadata ??= await this.metadataOf(n);
      if (metadata) for (const c of channels) c.push(EVENT_THREAD_METADATA, metadata);
    }
  }

  private async metadataOf(n: RunStartNotice): Promise<ThreadMetadataPayload | null> {
    const thread = await this.store.threads.head(n.threadId);
    const record = thread ? await threadRecord(this.store, thread) : null;
    if (!record) return null;
    return {
      // Its first run is what makes a thread appear in CopilotKit's list.
      operation: n.seq === 1 ? "created" : "updated",
      threadId: n.threadId,
      userId: "",
      organizationId: "",
      occurredAt: new Date(this.now()).toISOString(),
      thread: record,
    };
  }

  private byPrincipal(): Map<Principal, ActivityChannel[]> {
    // Channels of one principal share one access decision (several tabs, one person).
    const byCode = new Map<string, { principal: Principal; channels: ActivityChannel[] }>();
    for (const c of this.channels) {
      const entry = byCode.get(c.principal.code);
      if (entry) entry.channels.push(c);
      else byCode.set(c.principal.code, { principal: c.principal, channels: [c] });
    }
    return new Map([...byCode.values()].map((e) => [e.principal, e.channels]));
  }

  private async agentOf(threadId: string, runId: string): Promise<string | undefined> {
    const key = `${threadId}\u0000${runId}`;
    const cached = this.agents.get(key);
    if (cached) return cached;
    const run = await this.store.runs.get(threadId, runId);
    if (!run) return undefined;
    this.agents.set(key, run.agentId);
    if (this.agents.size > MAX_AGENT_CACHE) this.agents.delete(this.agents.keys().next().value!);
    return run.agentId;
  }
}

function activity(threadId: string, runId: string, agentId?: string): RunActivityPayload {
  return { threadId, runId, eventType: "RUN_STARTED", ...(agentId ? { agentId } : {}) };
}
