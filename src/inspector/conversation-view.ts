import type { RunRecord } from "../core/types.js";
import type { ChatMessage, Conversation, RunMark } from "./conversation.js";
import { h, scrollPane, setText } from "./dom.js";
import { formatDateTime, formatStamp } from "./format.js";

interface MessageNode {
  li: HTMLLIElement;
  time: HTMLElement;
  flag: HTMLElement;
  content: HTMLElement;
  tools: HTMLElement;
}

/** Keeps the rendered list within this distance of the bottom "stuck" to new messages. */
const STICK_PX = 48;

export function stickToBottom(el: HTMLElement, update: () => void): void {
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
  update();
  if (atBottom) el.scrollTop = el.scrollHeight;
}

const MARK_TITLE: Record<RunMark["status"], string> = {
  failed: "Run failed",
  cancelled: "Run cancelled",
  interrupted: "Run interrupted",
};

export interface ConversationViewDeps {
  /** The run record of a run id, when loaded (for message times). */
  runOf: (runId: string) => RunRecord | undefined;
  /** The deep link of a run's detail view. */
  runHref: (runId: string) => string;
}

/**
 * Renders a Conversation, redrawing only the messages that changed since the last frame. Each
 * message shows when its run started (the time it joined the thread); a run that failed, was
 * cancelled or interrupted leaves a marker with its error where it ended, and its messages are
 * flagged incomplete.
 */
export class ConversationView {
  readonly el = scrollPane(
    h("ol", { class: "messages", "data-testid": "conversation", "aria-live": "polite" }),
    "Conversation",
  );
  private readonly nodes = new Map<string, MessageNode>();
  private conversation: Conversation | undefined;

  constructor(private readonly deps: ConversationViewDeps) {}

  render(conversation: Conversation): { stateChanged: boolean; interruptsChanged: boolean } {
    this.conversation = conversation;
    const changes = conversation.takeChanges();
    stickToBottom(this.el, () => {
      if (changes.messages === "all" || changes.marks) {
        const live = new Set(conversation.messages.map((m) => m.id));
        for (const id of this.nodes.keys()) if (!live.has(id)) this.nodes.delete(id);
        this.el.replaceChildren(...this.ordered(conversation));
        return;
      }
      const byId = new Map(conversation.messages.map((m) => [m.id, m]));
      for (const id of changes.messages) {
        const m = byId.get(id);
        if (!m) continue;
        const isNew = !this.nodes.has(id);
        const node = this.update(m);
        if (isNew) this.el.append(node.li);
      }
    });
    return { stateChanged: changes.state, interruptsChanged: changes.interrupts };
  }

  /** Run records arrived: fill in the times of the messages they started. */
  refreshTimes(): void {
    for (const m of this.conversation?.messages ?? []) {
      const node = this.nodes.get(m.id);
      if (node) this.setTime(node, m);
    }
  }

  clear(): void {
    this.nodes.clear();
    this.conversation = undefined;
    this.el.replaceChildren();
  }

  /** Messages in thread order with each marker before the first message that came after it. */
  private ordered(conversation: Conversation): HTMLElement[] {
    const out: HTMLElement[] = [];
    const marks = conversation.marks;
    let next = 0;
    for (const m of conversation.messages) {
      if (m.seq !== undefined) {
        while (next < marks.length && marks[next]!.seq < m.seq) out.push(this.mark(marks[next++]!));
      }
      out.push(this.update(m).li);
    }
    while (next < marks.length) out.push(this.mark(marks[next++]!));
    return out;
  }

  private mark(mark: RunMark): HTMLElement {
    return h(
      "li",
      {
        class: `run-mark status-${mark.status}`,
        "data-testid": "run-mark",
        "data-run-id": mark.runId,
        "data-status": mark.status,
      },
      h("strong", null, MARK_TITLE[mark.status]),
      // A cancelled run's reason is often just "cancelled": say it once.
      mark.detail && mark.detail !== mark.status
        ? h("span", { class: "mark-detail" }, mark.detail)
        : null,
      h("a", { href: this.deps.runHref(mark.runId) }, "Run details"),
    );
  }

  private setTime(node: MessageNode, m: ChatMessage): void {
    const run = m.runId === undefined ? undefined : this.deps.runOf(m.runId);
    const at = run?.startedAt ?? run?.createdAt;
    setText(node.time, at === undefined ? "" : formatStamp(at));
    if (at === undefined) {
      node.time.removeAttribute("title");
      node.time.removeAttribute("datetime");
    } else {
      node.time.title = `run ${run!.runId} started ${formatDateTime(at)}`;
      node.time.setAttribute("datetime", new Date(at).toISOString());
    }
  }

  private update(m: ChatMessage): MessageNode {
    let node = this.nodes.get(m.id);
    if (!node) {
      const content = h("div", { class: "content" });
      const tools = h("div", { class: "tools" });
      const time = h("time", { class: "time", "data-testid": "message-time" });
      const flag = h("span", { class: "flag", hidden: true }, "incomplete");
      const who =
        m.role === "tool" ? `tool result${m.toolCallId ? ` · ${m.toolCallId}` : ""}` : m.role;
      const li = h(
        "li",
        {
          class: `msg role-${m.role}`,
          "data-testid": "message",
          "data-role": m.role,
          "data-message-id": m.id,
        },
        h("div", { class: "who" }, h("span", null, who), flag, time),
        content,
        tools,
      );
      node = { li, time, flag, content, tools };
      this.nodes.set(m.id, node);
    }
    setText(node.content, m.content);
    node.li.classList.toggle("streaming", m.streaming);
    node.li.dataset.streaming = String(m.streaming);
    const incomplete = this.conversation?.markOf(m.runId) !== undefined && m.role !== "user";
    node.li.classList.toggle("incomplete", incomplete);
    node.flag.hidden = !incomplete;
    if (m.runId) node.li.dataset.runId = m.runId;
    this.setTime(node, m);
    if (node.tools.childElementCount !== m.toolCalls.length || m.streaming) {
      node.tools.replaceChildren(
        ...m.toolCalls.map((c) =>
          h(
            "div",
            { class: "tool" },
            h("span", { class: "tool-name" }, c.name),
            h("code", null, c.args),
          ),
        ),
      );
    }
    return node;
  }
}
