import type { BaseEvent, Interrupt } from "@ag-ui/core";
import jsonPatch from "fast-json-patch";
import { pendingAfter } from "../core/interrupts.js";
import { errorOfTerminal, statusOfTerminal } from "../core/store.js";
import type { RunStatus } from "../core/types.js";
import { METADATA_KEY } from "../protocol.js";

/** One message as the inspector shows it. */
export interface ChatMessage {
  id: string;
  role: string;
  content: string;
  toolCalls: { id: string; name: string; args: string }[];
  /** For tool results: the call they answer. */
  toolCallId?: string;
  /** True between its START and END (or the run's end). */
  streaming: boolean;
  /** An activity message's structured content (shown as JSON in `content`). */
  activity?: unknown;
  /** The run that added it to the thread, and the seq where it first appeared, when known. */
  runId?: string;
  seq?: number;
}

/** A run that ended without succeeding, shown as a marker where it ended. */
export interface RunMark {
  runId: string;
  /** Seq of its terminal event. */
  seq: number;
  status: Exclude<RunStatus, "succeeded" | "queued" | "running">;
  /** `CODE: message` of a RUN_ERROR, or the reason a cancelled run was given. */
  detail: string;
}

/** Where an event sits in the log; snapshot items stand for history and name no run. */
export interface LogPosition {
  seq: number;
  kind: "event" | "snapshot" | "reopen" | "abort";
}

type Loose = BaseEvent & Record<string, unknown>;

const CREATES_MESSAGE = new Set([
  "TEXT_MESSAGE_START",
  "TEXT_MESSAGE_CHUNK",
  "REASONING_MESSAGE_START",
  "TOOL_CALL_RESULT",
  "ACTIVITY_SNAPSHOT",
]);

/** Text of AG-UI content: a string, or the text parts of a multimodal array. */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === "object" && "text" in p ? String(p.text) : "[attachment]"))
      .join(" ");
  }
  return content === undefined || content === null ? "" : JSON.stringify(content);
}

function fromAgUi(m: Record<string, unknown>): ChatMessage {
  if (m.role === "activity") return activityMessage(String(m.id), m.content);
  const calls = Array.isArray(m.toolCalls) ? (m.toolCalls as Record<string, unknown>[]) : [];
  return {
    id: String(m.id),
    role: String(m.role ?? "assistant"),
    content: textOf(m.content),
    toolCalls: calls.map((tc) => {
      const fn = (tc.function ?? {}) as { name?: unknown; arguments?: unknown };
      return { id: String(tc.id), name: String(fn.name ?? ""), args: String(fn.arguments ?? "") };
    }),
    ...(typeof m.toolCallId === "string" ? { toolCallId: m.toolCallId } : {}),
    streaming: false,
  };
}

/** A JSON patch applied to a copy; an invalid one (the agent's bug) is skipped, as the server does. */
function patch(doc: unknown, ops: unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    const value = jsonPatch.applyPatch(
      structuredClone(doc),
      structuredClone(ops) as jsonPatch.Operation[],
      true,
      false,
    ).newDocument;
    return { ok: true, value };
  } catch {
    return { ok: false };
  }
}

/** A message's new version keeps where the original came from. */
function keepOrigin(old: ChatMessage | undefined, next: ChatMessage): ChatMessage {
  if (old && old !== next && old.seq !== undefined) {
    next.runId = old.runId;
    next.seq = old.seq;
  }
  return next;
}

function activityMessage(id: string, activity: unknown): ChatMessage {
  const content = JSON.stringify(activity ?? null);
  return { id, role: "activity", content, toolCalls: [], streaming: false, activity };
}

/**
 * The thread's messages and state, folded from its follow stream the way the server folds its
 * materialized view (`core/view.ts`; a test checks they agree on the demo agent's runs). It is
 * deliberately small — no @ag-ui/core runtime (that would pull zod into the page) — and it tells
 * the renderer what changed so only those messages are redrawn.
 */
export class Conversation {
  messages: ChatMessage[] = [];
  state: unknown = {};
  /** Runs that failed, were cancelled or interrupted, by the seq they ended at. */
  marks: RunMark[] = [];
  /**
   * The interrupts the thread waits on (PROTOCOL.md §3.1), folded by the server's own rule: a
   * compact snapshot's run ends with them, a later RUN_STARTED's `resume` answers them.
   */
  interrupts: Interrupt[] = [];
  /** The run the log is in (between a real RUN_STARTED and its terminal event). */
  private run: string | undefined;
  private at: LogPosition | undefined;
  private index = new Map<string, number>();
  private toolOwner = new Map<string, string>();
  /** Changed message ids since the last `takeChanges`; `all` after a reorder or snapshot. */
  private dirty = new Set<string>();
  private structural = false;
  private stateChanged = false;
  private marksChanged = false;
  private interruptsChanged = false;

  /**
   * Folds one event. With its log position (`at`) the messages it adds are attributed to their
   * run and a run that did not succeed leaves a marker; snapshot items name no run.
   */
  apply(event: BaseEvent, at?: LogPosition): void {
    this.at = at?.kind === "snapshot" ? undefined : at;
    const pending = pendingAfter(this.interrupts, event);
    if (pending) {
      this.interrupts = pending;
      this.interruptsChanged = true;
    }
    const e = event as Loose;
    if (this.at && e.type === "RUN_STARTED") this.run = String(e.runId);
    switch (e.type) {
      case "RUN_STARTED": {
        const input = e.input as { messages?: Record<string, unknown>[] } | undefined;
        for (const m of input?.messages ?? [])
          if (!this.index.has(String(m.id))) this.push(fromAgUi(m));
        return;
      }
      case "TEXT_MESSAGE_START":
      case "REASONING_MESSAGE_START":
      case "TEXT_MESSAGE_CHUNK": {
        const id = String(e.messageId);
        const role =
          e.type === "REASONING_MESSAGE_START" ? "reasoning" : String(e.role ?? "assistant");
        const m = this.ensure(id, role);
        m.streaming = e.type !== "TEXT_MESSAGE_CHUNK" || m.streaming;
        if (e.type === "TEXT_MESSAGE_CHUNK" && typeof e.delta === "string") m.content += e.delta;
        this.dirty.add(id);
        return;
      }
      case "TEXT_MESSAGE_CONTENT":
      case "REASONING_MESSAGE_CONTENT": {
        const m = this.get(String(e.messageId));
        if (!m || m.role === "activity") return;
        m.content += String(e.delta ?? "");
        this.dirty.add(m.id);
        return;
      }
      case "TEXT_MESSAGE_END":
      case "REASONING_MESSAGE_END": {
        const m = this.get(String(e.messageId));
        if (m) {
          m.streaming = false;
          this.dirty.add(m.id);
        }
        return;
      }
      case "TOOL_CALL_START": {
        const callId = String(e.toolCallId);
        if (this.toolOwner.has(callId)) return;
        const parent = typeof e.parentMessageId === "string" ? e.parentMessageId : undefined;
        const owner =
          parent && this.get(parent)?.role === "assistant"
            ? this.get(parent)!
            : this.ensure(parent ?? callId, "assistant");
        owner.toolCalls.push({ id: callId, name: String(e.toolCallName ?? ""), args: "" });
        this.toolOwner.set(callId, owner.id);
        this.dirty.add(owner.id);
        return;
      }
      case "TOOL_CALL_ARGS": {
        const owner = this.get(this.toolOwner.get(String(e.toolCallId)) ?? "");
        const call = owner?.toolCalls.find((c) => c.id === e.toolCallId);
        if (!owner || !call) return;
        call.args += String(e.delta ?? "");
        this.dirty.add(owner.id);
        return;
      }
      case "TOOL_CALL_RESULT": {
        const m = fromAgUi({
          id: e.messageId,
          role: e.role ?? "tool",
          content: e.content,
          toolCallId: e.toolCallId,
        });
        const existing = this.index.get(m.id);
        if (existing !== undefined) {
          this.messages[existing] = keepOrigin(this.messages[existing], m);
          this.dirty.add(m.id);
          return;
        }
        // Like the server's view: right after its assistant message and the earlier results.
        const ownerAt = this.index.get(this.toolOwner.get(String(e.toolCallId)) ?? "");
        if (ownerAt === undefined) {
          this.push(m);
          return;
        }
        let at = ownerAt + 1;
        while (at < this.messages.length && this.messages[at]?.role === "tool") at++;
        this.messages.splice(at, 0, this.stamp(m));
        this.reindex();
        return;
      }
      case "MESSAGES_SNAPSHOT": {
        const incoming = (Array.isArray(e.messages) ? e.messages : []) as Record<string, unknown>[];
        const ids = new Set(incoming.map((m) => String(m.id)));
        const keepReasoning = !incoming.some((m) => m.role === "reasoning");
        const keepActivity = !incoming.some((m) => m.role === "activity");
        const kept = this.messages.filter(
          (m) =>
            ids.has(m.id) ||
            (keepReasoning && m.role === "reasoning") ||
            (keepActivity && m.role === "activity"),
        );
        const fresh = new Map(incoming.map((m) => [String(m.id), fromAgUi(m)]));
        this.messages = kept.map((m) => keepOrigin(m, fresh.get(m.id) ?? m));
        const seen = new Set(this.messages.map((m) => m.id));
        for (const [id, m] of fresh) if (!seen.has(id)) this.messages.push(this.stamp(m));
        this.reindex();
        return;
      }
      case "ACTIVITY_SNAPSHOT": {
        const id = String(e.messageId);
        const existing = this.get(id);
        if (existing && (existing.role !== "activity" || e.replace === false)) return;
        this.upsert(activityMessage(id, structuredClone(e.content)));
        return;
      }
      case "ACTIVITY_DELTA": {
        const m = this.get(String(e.messageId));
        if (m?.role !== "activity") return;
        const patched = patch(m.activity ?? {}, e.patch);
        if (patched.ok) this.upsert(activityMessage(m.id, patched.value));
        return;
      }
      case "STATE_SNAPSHOT":
        this.state = structuredClone(e.snapshot);
        this.stateChanged = true;
        return;
      case "STATE_DELTA": {
        const patched = patch(this.state ?? {}, e.delta);
        if (patched.ok) {
          this.state = patched.value;
          this.stateChanged = true;
        }
        return;
      }
      case "RUN_FINISHED":
      case "RUN_ERROR":
        for (const m of this.messages) {
          if (m.streaming) {
            m.streaming = false;
            this.dirty.add(m.id);
          }
        }
        if (this.at && this.run) this.ended(this.run, this.at.seq, e);
        this.run = undefined;
        return;
      default:
        return;
    }
  }

  /**
   * Attributes messages shown from a compact snapshot to their runs, from stored log events
   * (ascending, e.g. the log's tail) that the snapshot summarised: where each message first
   * appeared and which runs ended badly. Messages already attributed keep their run.
   */
  attribute(records: readonly { seq: number; event: BaseEvent }[]): void {
    let run: string | undefined;
    const tag = (id: unknown, seq: number) => {
      const m = typeof id === "string" ? this.get(id) : undefined;
      if (!m || m.seq !== undefined || run === undefined) return;
      m.runId = run;
      m.seq = seq;
      this.structural = true;
    };
    for (const { seq, event } of records) {
      const e = event as Loose;
      switch (e.type) {
        case "RUN_STARTED":
          run = String(e.runId);
          for (const m of (e.input as { messages?: { id?: unknown }[] } | undefined)?.messages ??
            [])
            tag(m.id, seq);
          break;
        case "TOOL_CALL_START":
          tag(e.parentMessageId ?? e.toolCallId, seq);
          break;
        case "RUN_FINISHED":
        case "RUN_ERROR":
          if (run !== undefined) this.ended(run, seq, e);
          run = undefined;
          break;
        default:
          // Only the events that bring a message in: later ones may touch an older message.
          if (CREATES_MESSAGE.has(e.type)) tag(e.messageId, seq);
      }
    }
  }

  /**
   * What changed since the last call: message ids (or `all`), the state, the run markers, the
   * pending interrupts.
   */
  takeChanges(): {
    messages: Set<string> | "all";
    state: boolean;
    marks: boolean;
    interrupts: boolean;
  } {
    const changes = {
      messages: this.structural ? ("all" as const) : this.dirty,
      state: this.stateChanged,
      marks: this.marksChanged,
      interrupts: this.interruptsChanged,
    };
    this.dirty = new Set();
    this.structural = false;
    this.stateChanged = false;
    this.marksChanged = false;
    this.interruptsChanged = false;
    return changes;
  }

  /** The marker of a run that did not succeed, if it has one. */
  markOf(runId: string | undefined): RunMark | undefined {
    return runId === undefined ? undefined : this.marks.find((m) => m.runId === runId);
  }

  private ended(runId: string, seq: number, terminal: Loose): void {
    const status = statusOfTerminal(terminal);
    if (status === "succeeded" || this.markOf(runId)) return;
    const error = errorOfTerminal(terminal);
    const meta = (terminal.metadata as Record<string, { reason?: unknown }> | undefined)?.[
      METADATA_KEY
    ];
    const detail = error
      ? `${error.code}${error.message ? `: ${error.message}` : ""}`
      : typeof meta?.reason === "string"
        ? meta.reason
        : "";
    this.marks.push({ runId, seq, status: status as RunMark["status"], detail });
    this.marks.sort((a, b) => a.seq - b.seq);
    this.marksChanged = true;
  }

  private upsert(m: ChatMessage): void {
    const i = this.index.get(m.id);
    if (i === undefined) {
      this.push(m);
      return;
    }
    this.messages[i] = keepOrigin(this.messages[i], m);
    this.dirty.add(m.id);
  }

  private get(id: string): ChatMessage | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.messages[i];
  }

  private ensure(id: string, role: string): ChatMessage {
    const found = this.get(id);
    if (found) return found;
    const m: ChatMessage = { id, role, content: "", toolCalls: [], streaming: false };
    this.push(m);
    return m;
  }

  /** Attributes a new message to the run the log is in, when the event has a log position. */
  private stamp(m: ChatMessage): ChatMessage {
    if (this.at && this.run !== undefined && m.seq === undefined) {
      m.runId = this.run;
      m.seq = this.at.seq;
    }
    return m;
  }

  private push(m: ChatMessage): void {
    this.stamp(m);
    this.index.set(m.id, this.messages.length);
    this.messages.push(m);
    for (const c of m.toolCalls) this.toolOwner.set(c.id, m.id);
    this.dirty.add(m.id);
  }

  private reindex(): void {
    this.index.clear();
    this.toolOwner.clear();
    this.messages.forEach((m, i) => {
      this.index.set(m.id, i);
      for (const c of m.toolCalls) this.toolOwner.set(c.id, m.id);
    });
    this.structural = true;
  }
}
