import type { BaseEvent } from "@ag-ui/core";
import type { ThreadEvent } from "../client/follow-thread.js";
import { stickToBottom } from "./conversation-view.js";
import { h } from "./dom.js";
import { summarize } from "./format.js";

/** Rows kept in the page; older ones leave the DOM (they stay loadable from the server). */
const MAX_ROWS = 1000;
/** Events fetched per "Load earlier" click. */
const PAGE = 200;

type Loader = (after: number, until: number) => Promise<{ seq: number; event: BaseEvent }[]>;

/**
 * The raw event log with seq numbers: what the follow stream delivers (compact snapshot and
 * `reopen` frames tagged as such), plus earlier stored events loaded on demand. Each row opens
 * to the event's full JSON, built only when opened.
 */
export class EventLog {
  readonly el: HTMLElement;
  private readonly list = h("ol", { class: "events", "data-testid": "events" });
  private readonly more = h(
    "button",
    { type: "button", class: "small", hidden: true },
    "Load earlier events",
  );
  private pending: ThreadEvent[] = [];
  /** Stored events up to this seq are not in the list yet. */
  private floor = 0;

  constructor(private readonly load: Loader) {
    this.more.addEventListener("click", () => void this.loadEarlier());
    this.el = h("div", { class: "log" }, this.more, this.list);
  }

  reset(): void {
    this.pending = [];
    this.floor = 0;
    this.more.hidden = true;
    this.list.replaceChildren();
  }

  add(item: ThreadEvent): void {
    this.pending.push(item);
  }

  /** The stream started at `seq` (a compact snapshot stands for everything up to it). */
  startsAfter(seq: number): void {
    this.floor = seq;
    this.more.hidden = seq === 0;
  }

  render(): void {
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    stickToBottom(this.list, () => {
      this.list.append(...items.map((i) => row(i.seq, i.kind, i.event)));
      let excess = this.list.childElementCount - MAX_ROWS;
      while (excess-- > 0) this.list.firstElementChild?.remove();
    });
  }

  /** Prepends up to PAGE stored events before the first one shown, keeping the scroll position. */
  async loadEarlier(opts: { scrollToEnd?: boolean } = {}): Promise<void> {
    if (this.floor === 0) return;
    const until = this.floor;
    const after = Math.max(0, until - PAGE);
    this.more.disabled = true;
    try {
      const events = await this.load(after, until);
      const fromBottom = this.list.scrollHeight - this.list.scrollTop;
      this.list.prepend(...events.map((e) => row(e.seq, "event", e.event)));
      this.list.scrollTop = opts.scrollToEnd
        ? this.list.scrollHeight
        : this.list.scrollHeight - fromBottom;
      this.startsAfter(after);
    } finally {
      this.more.disabled = false;
    }
  }
}

function row(seq: number, kind: ThreadEvent["kind"], event: BaseEvent): HTMLElement {
  const details = h(
    "details",
    null,
    h(
      "summary",
      null,
      h("span", { class: "seq" }, `#${seq}`),
      kind === "event" ? null : h("span", { class: `tag tag-${kind}` }, kind),
      h("span", { class: "type" }, event.type),
      h("span", { class: "brief" }, summarize(event)),
    ),
  );
  details.addEventListener("toggle", () => {
    if (details.open && details.childElementCount === 1) {
      details.append(h("pre", null, JSON.stringify(event, null, 2)));
    }
  });
  return h(
    "li",
    { class: `ev kind-${kind}`, "data-testid": "event", "data-seq": seq, "data-kind": kind },
    details,
  );
}
