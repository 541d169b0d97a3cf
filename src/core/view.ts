import {
  type ActivityDeltaEvent,
  type ActivitySnapshotEvent,
  type AssistantMessage,
  type BaseEvent,
  EventType,
  type Interrupt,
  type Message,
  type MessagesSnapshotEvent,
  type ReasoningMessageContentEvent,
  type ReasoningMessageStartEvent,
  type RunStartedEvent,
  type StateDeltaEvent,
  type StateSnapshotEvent,
  type TextMessageContentEvent,
  type TextMessageStartEvent,
  type ToolCallArgsEvent,
  type ToolCallResultEvent,
  type ToolCallStartEvent,
} from "@ag-ui/core";
import jsonPatch from "fast-json-patch";
import { expiryDueAt } from "./interrupt-expiry.js";
import { pendingAfter } from "./interrupts.js";
import type { ViewUpdate } from "./types.js";

const isActivity = (m: Message): boolean => m.role === "activity";

type AnyMessage = Message & { content?: unknown; toolCalls?: AssistantMessage["toolCalls"] };

/**
 * The thread's materialized view (messages + state) as the writer of a run keeps it in memory.
 * It folds events the way `@ag-ui/client`'s `defaultApplyEvents` does (the test suite checks
 * both agree), in O(1) per event, and records what changed so an append can persist only the
 * touched messages: per-event cost does not depend on how long the thread is.
 */
export class ViewBuilder {
  private messages: AnyMessage[];
  private index = new Map<string, number>();
  private toolCallOwner = new Map<string, string>();
  private dirty = new Set<string>();
  /** Messages this builder created or copied: only these may be mutated in place. */
  private fresh = new Set<string>();
  private replaced = false;
  private stateChanged = false;
  private interruptsChanged = false;
  /** The thread's pending interrupts (see `interrupts.ts`). */
  interrupts: Interrupt[];
  /** How many messages are activity ones: with none, `agentMessages` needs no scan. */
  private activityCount = 0;
  /** The array last handed out by `agentMessages`, what it held then, and slots replaced since. */
  private shared: Message[] | undefined;
  private sharedLength = 0;
  private sharedEnds: [Message | undefined, Message | undefined] = [undefined, undefined];
  private sharedStale = new Set<number>();
  state: unknown;

  /**
   * `owned: true` hands the arrays over (e.g. freshly parsed from the store): no copy is made.
   * Either way messages are copied on first write, so arrays handed out by `getMessages()`
   * (the agent's input) never see later changes to messages that existed before.
   */
  constructor(
    messages: readonly Message[],
    state: unknown,
    opts: { owned?: boolean; interrupts?: readonly Interrupt[] } = {},
  ) {
    this.messages = opts.owned
      ? (messages as AnyMessage[])
      : messages.map((m) => structuredClone(m) as AnyMessage);
    this.state = opts.owned ? (state ?? {}) : structuredClone(state ?? {});
    this.interrupts = structuredClone([...(opts.interrupts ?? [])]);
    this.reindex();
  }

  /**
   * The messages an agent gets for its next run: the thread's, without activity messages (UI
   * only, never sent to agents). Shallow: messages are copy-on-write, so the array never sees
   * later edits.
   *
   * Handing a run its history must not cost as much as the history: the array is kept and
   * brought up to date in place for the thread's next run (appended messages pushed, replaced
   * ones swapped), once the run it was given to has ended — one run per thread at a time. An
   * agent must therefore not keep `input.messages` past its run. A copy is made only when the
   * array was changed by its holder (checked at both ends), when activity messages must be left
   * out, or the first time.
   */
  agentMessages(): Message[] {
    this.fresh.clear();
    const all = this.messages;
    if (this.activityCount > 0) {
      this.dropShared();
      return all.filter((m) => !isActivity(m));
    }
    const shared = this.shared;
    if (
      !shared ||
      shared.length !== this.sharedLength ||
      (shared.length > 0 &&
        (shared[0] !== this.sharedEnds[0] || shared.at(-1) !== this.sharedEnds[1]))
    ) {
      this.shared = all.slice();
    } else {
      for (const i of this.sharedStale) shared[i] = all[i]!;
      for (let i = shared.length; i < all.length; i++) shared.push(all[i]!);
    }
    this.sharedStale.clear();
    const out = this.shared!;
    this.sharedLength = out.length;
    this.sharedEnds = [out[0], out.at(-1)];
    return out;
  }

  getMessages(): Message[] {
    return this.messages;
  }

  has(messageId: string): boolean {
    return this.index.has(messageId);
  }

  apply(event: BaseEvent): void {
    const pending = pendingAfter(this.interrupts, event);
    if (pending) {
      this.interrupts = structuredClone(pending);
      this.interruptsChanged = true;
    }
    switch (event.type) {
      case EventType.RUN_STARTED: {
        for (const m of (event as RunStartedEvent).input?.messages ?? []) {
          if (!this.index.has(m.id)) this.push(structuredClone(m) as AnyMessage);
        }
        return;
      }
      case EventType.TEXT_MESSAGE_START: {
        const e = event as TextMessageStartEvent;
        if (!this.index.has(e.messageId)) {
          this.push({
            id: e.messageId,
            role: e.role ?? "assistant",
            content: "",
            ...(e.name === undefined ? {} : { name: e.name }),
          } as AnyMessage);
        }
        return;
      }
      case EventType.TEXT_MESSAGE_CONTENT:
      case EventType.REASONING_MESSAGE_CONTENT: {
        const e = event as TextMessageContentEvent | ReasoningMessageContentEvent;
        if (this.get(e.messageId)?.role === "activity") return;
        const m = this.edit(e.messageId);
        if (!m) return;
        m.content = `${typeof m.content === "string" ? m.content : ""}${e.delta}`;
        return;
      }
      case EventType.REASONING_MESSAGE_START: {
        const e = event as ReasoningMessageStartEvent;
        if (!this.index.has(e.messageId)) {
          this.push({ id: e.messageId, role: "reasoning", content: "" } as AnyMessage);
        }
        return;
      }
      case EventType.TOOL_CALL_START: {
        const e = event as ToolCallStartEvent;
        const ownerId = this.toolCallOwner.get(e.toolCallId);
        if (ownerId) {
          const tc = this.get(ownerId)?.toolCalls?.find((t) => t.id === e.toolCallId);
          if (tc && tc.function.name !== e.toolCallName) {
            const renamed = this.edit(ownerId)?.toolCalls?.find((t) => t.id === e.toolCallId);
            if (renamed) renamed.function.name = e.toolCallName;
          }
          return;
        }
        let owner = e.parentMessageId ? this.get(e.parentMessageId) : undefined;
        if (owner?.role !== "assistant") {
          const id = e.parentMessageId && !owner ? e.parentMessageId : e.toolCallId;
          owner = { id, role: "assistant", toolCalls: [] } as AnyMessage;
          this.push(owner);
        } else {
          owner = this.edit(owner.id)!;
        }
        owner.toolCalls ??= [];
        owner.toolCalls.push({
          id: e.toolCallId,
          type: "function",
          function: { name: e.toolCallName, arguments: "" },
        });
        this.toolCallOwner.set(e.toolCallId, owner.id);
        this.dirty.add(owner.id);
        return;
      }
      case EventType.TOOL_CALL_ARGS: {
        const e = event as ToolCallArgsEvent;
        const ownerId = this.toolCallOwner.get(e.toolCallId);
        const tc = ownerId
          ? this.edit(ownerId)?.toolCalls?.find((t) => t.id === e.toolCallId)
          : undefined;
        if (tc) tc.function.arguments += e.delta;
        return;
      }
      case EventType.TOOL_CALL_RESULT: {
        const e = event as ToolCallResultEvent;
        const msg = {
          id: e.messageId,
          role: e.role ?? "tool",
          toolCallId: e.toolCallId,
          content: e.content,
        } as AnyMessage;
        const ownerId = this.toolCallOwner.get(e.toolCallId);
        const ownerIdx = ownerId === undefined ? undefined : this.index.get(ownerId);
        if (ownerIdx === undefined || this.index.has(e.messageId)) {
          this.upsert(msg);
          return;
        }
        // Like the client: the result goes right after its assistant message and earlier results.
        let at = ownerIdx + 1;
        while (at < this.messages.length && this.messages[at]?.role === "tool") at++;
        if (at === this.messages.length) {
          this.push(msg);
        } else {
          this.messages.splice(at, 0, msg);
          this.reindex();
          this.replaced = true;
        }
        return;
      }
      case EventType.MESSAGES_SNAPSHOT: {
        const incoming = (event as MessagesSnapshotEvent).messages as AnyMessage[];
        const byId = new Map(incoming.map((m) => [m.id, m]));
        const keepActivity = !incoming.some((m) => m.role === "activity");
        const keepReasoning = !incoming.some((m) => m.role === "reasoning");
        const kept = this.messages
          .filter(
            (m) =>
              byId.has(m.id) ||
              (keepActivity && m.role === "activity") ||
              (keepReasoning && m.role === "reasoning"),
          )
          .map((m) => (byId.has(m.id) ? structuredClone(byId.get(m.id)!) : m));
        const seen = new Set(kept.map((m) => m.id));
        for (const m of incoming) if (!seen.has(m.id)) kept.push(structuredClone(m));
        this.messages = kept;
        this.reindex();
        this.replaced = true;
        return;
      }
      case EventType.ACTIVITY_SNAPSHOT: {
        const e = event as ActivitySnapshotEvent;
        const existing = this.get(e.messageId);
        if (existing && existing.role !== "activity") return;
        if (existing && e.replace === false) return;
        this.upsert({
          id: e.messageId,
          role: "activity",
          activityType: e.activityType,
          content: structuredClone(e.content),
        } as unknown as AnyMessage);
        return;
      }
      case EventType.ACTIVITY_DELTA: {
        const e = event as ActivityDeltaEvent;
        if (this.get(e.messageId)?.role !== "activity") return;
        const m = this.edit(e.messageId) as AnyMessage & { content: unknown };
        try {
          m.content = jsonPatch.applyPatch(
            structuredClone(m.content ?? {}),
            structuredClone(e.patch) as jsonPatch.Operation[],
            true,
            false,
          ).newDocument;
          this.dirty.add(m.id);
        } catch {
          // An invalid patch is the agent's bug; the client skips it too.
        }
        return;
      }
      case EventType.STATE_SNAPSHOT: {
        this.state = structuredClone((event as StateSnapshotEvent).snapshot);
        this.stateChanged = true;
        return;
      }
      case EventType.STATE_DELTA: {
        try {
          this.state = jsonPatch.applyPatch(
            structuredClone(this.state ?? {}),
            structuredClone((event as StateDeltaEvent).delta) as jsonPatch.Operation[],
            true,
            false,
          ).newDocument;
          this.stateChanged = true;
        } catch {
          // Same as the client: a failing patch leaves the state as it was.
        }
        return;
      }
      default:
        return;
    }
  }

  /** What changed since the last call; resets the change tracking. */
  takeUpdate(): ViewUpdate | undefined {
    const update: ViewUpdate = {};
    if (this.replaced) {
      update.replaceMessages = this.messages.map((m) => structuredClone(m));
    } else if (this.dirty.size > 0) {
      update.upsertMessages = [...this.dirty]
        .map((id) => this.get(id))
        .filter((m): m is AnyMessage => m !== undefined)
        .sort((a, b) => (this.index.get(a.id) ?? 0) - (this.index.get(b.id) ?? 0))
        // Copies: the store may serialize after later events changed the live objects.
        .map((m) => structuredClone(m));
    }
    if (this.stateChanged) update.state = { value: structuredClone(this.state) };
    if (this.interruptsChanged) {
      update.interrupts = {
        value: structuredClone(this.interrupts),
        dueAt: expiryDueAt(this.interrupts),
      };
    }
    this.dirty.clear();
    this.replaced = false;
    this.stateChanged = false;
    this.interruptsChanged = false;
    return update.replaceMessages || update.upsertMessages || update.state || update.interrupts
      ? update
      : undefined;
  }

  /** The message, made safe to mutate (copied on first write) and marked changed. */
  private edit(id: string): AnyMessage | undefined {
    const i = this.index.get(id);
    if (i === undefined) return undefined;
    let m = this.messages[i]!;
    if (!this.fresh.has(id)) {
      m = structuredClone(m);
      this.messages[i] = m;
      this.fresh.add(id);
      if (i < this.sharedLength) this.sharedStale.add(i);
    }
    this.dirty.add(id);
    return m;
  }

  private get(id: string): AnyMessage | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.messages[i];
  }

  private push(m: AnyMessage): void {
    if (isActivity(m)) this.activityCount++;
    this.index.set(m.id, this.messages.length);
    this.messages.push(m);
    this.fresh.add(m.id);
    for (const tc of m.toolCalls ?? []) this.toolCallOwner.set(tc.id, m.id);
    this.dirty.add(m.id);
  }

  private upsert(m: AnyMessage): void {
    const i = this.index.get(m.id);
    if (i === undefined) {
      this.push(m);
      return;
    }
    this.activityCount += Number(isActivity(m)) - Number(isActivity(this.messages[i]!));
    this.messages[i] = m;
    if (i < this.sharedLength) this.sharedStale.add(i);
    this.fresh.add(m.id);
    for (const tc of m.toolCalls ?? []) this.toolCallOwner.set(tc.id, m.id);
    this.dirty.add(m.id);
  }

  /** Forgets the array `agentMessages` handed out: the next call builds a new one. */
  private dropShared(): void {
    this.shared = undefined;
    this.sharedLength = 0;
    this.sharedStale.clear();
  }

  private reindex(): void {
    this.index.clear();
    this.toolCallOwner.clear();
    this.activityCount = 0;
    // Messages moved: the shared array is rebuilt rather than patched.
    this.dropShared();
    this.messages.forEach((m, i) => {
      if (isActivity(m)) this.activityCount++;
      this.index.set(m.id, i);
      for (const tc of m.toolCalls ?? []) this.toolCallOwner.set(tc.id, m.id);
    });
  }
}

/**
 * Applies a view update to a plain message list (for stores that keep the list in memory).
 * Returns the new list; O(changed) for upserts thanks to the index.
 */
export function applyViewUpdate(
  messages: Message[],
  index: Map<string, number>,
  update: ViewUpdate,
): Message[] {
  let list = messages;
  if (update.replaceMessages) {
    list = update.replaceMessages.map((m) => structuredClone(m));
    index.clear();
    list.forEach((m, i) => {
      index.set(m.id, i);
    });
  }
  for (const m of update.upsertMessages ?? []) {
    const i = index.get(m.id);
    if (i === undefined) {
      index.set(m.id, list.length);
      list.push(structuredClone(m));
    } else {
      list[i] = structuredClone(m);
    }
  }
  return list;
}
