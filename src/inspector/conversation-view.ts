import type { ChatMessage, Conversation } from "./conversation.js";
import { h, setText } from "./dom.js";

interface MessageNode {
  li: HTMLLIElement;
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

/** Renders a Conversation, redrawing only the messages that changed since the last frame. */
export class ConversationView {
  readonly el = h("ol", {
    class: "messages",
    "data-testid": "conversation",
    "aria-live": "polite",
  });
  private readonly nodes = new Map<string, MessageNode>();

  render(conversation: Conversation): { stateChanged: boolean } {
    const changes = conversation.takeChanges();
    stickToBottom(this.el, () => {
      if (changes.messages === "all") {
        const live = new Set(conversation.messages.map((m) => m.id));
        for (const id of this.nodes.keys()) if (!live.has(id)) this.nodes.delete(id);
        this.el.replaceChildren(...conversation.messages.map((m) => this.update(m).li));
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
    return { stateChanged: changes.state };
  }

  clear(): void {
    this.nodes.clear();
    this.el.replaceChildren();
  }

  private update(m: ChatMessage): MessageNode {
    let node = this.nodes.get(m.id);
    if (!node) {
      const content = h("div", { class: "content" });
      const tools = h("div", { class: "tools" });
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
        h("div", { class: "who" }, who),
        content,
        tools,
      );
      node = { li, content, tools };
      this.nodes.set(m.id, node);
    }
    setText(node.content, m.content);
    node.li.classList.toggle("streaming", m.streaming);
    node.li.dataset.streaming = String(m.streaming);
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
