import type { BaseEvent } from "@ag-ui/core";
import type { ThreadEvent } from "../client/follow-thread.js";
import { stickToBottom } from "./conversation-view.js";
import { h, scrollPane } from "./dom.js";
import { summarize } from "./format.js";

/** Rows kept in the page; older ones leave the DOM (they stay loadable from the server). */
const MAX_ROWS = 1000;
/** Events fetched per "Load earlier" click. */
export const PAGE = 200;

export interface StoredEvent {
  seq: number;
  event: BaseEvent;
}
type Loader = (after: number, until: number) => Promise<StoredEvent[]>;

/**
 * The raw event log with seq numbers: what the follow stream delivers (compact snapshot and
 * `reopen` frames tagged as such), plus earlier stored events loaded on demand. Each row opens
 * to the event's full JSON, built only when opened.
 */
export class EventLog {
  readonly el: HTMLElement;
  private readonly list = scrollPane(
    h("ol", { class: "events", "data-testid": "events" }),
    "Events",
  );
  private readonly more = h(
    "button",
    { type: "button", class: "small", hidden: true },
    "Load earlier events",
  );
  private pending: ThreadEvent[] = [];
  /** Stored events up to this seq are not in the list yet. */
  private floor = 0;

  constructor(
    private readonly load: Loader,
    /** Told about the stored events loaded on demand (oldest first). */
    private readonly onStored: (events: StoredEvent[]) => void = () => undefined,
  ) {
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
      this.list.append(...items.map((i) => eventRow(i.seq, i.kind, i.event)));
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
      this.showStored(events, after, opts);
      this.onStored(events);
    } finally {
      this.more.disabled = false;
    }
  }

  /** Prepends stored events that end at the current floor; `after` becomes the new floor. */
  showStored(events: StoredEvent[], after: number, opts: { scrollToEnd?: boolean } = {}): void {
    const fromBottom = this.list.scrollHeight - this.list.scrollTop;
    this.list.prepend(...events.map((e) => eventRow(e.seq, "event", e.event)));
    this.list.scrollTop = opts.scrollToEnd
      ? this.list.scrollHeight
      : this.list.scrollHeight - fromBottom;
    this.startsAfter(after);
  }
}

/** One event: seq, type and a summary; opens to its full JSON (built when first opened). */
export function eventRow(seq: number, kind: ThreadEvent["kind"], event: BaseEvent): HTMLElement {
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
