import { h, setText } from "./dom.js";

/**
 * Newer / Older paging over a list the server pages by offset and answers with `next` (the
 * offset of the following page). It keeps the offsets of the pages visited, so "Newer" goes
 * back exactly; the list re-reads the current page when it refreshes.
 */
export class Pager {
  readonly el: HTMLElement;
  private offsets = [0];
  private readonly newer = h("button", { type: "button", class: "small" }, "‹ Newer");
  private readonly older = h("button", { type: "button", class: "small" }, "Older ›");
  private readonly label = h("span", { class: "muted page-label", "aria-live": "polite" });
  private next: number | undefined;

  constructor(what: string, onChange: () => void) {
    this.newer.addEventListener("click", () => {
      if (this.offsets.length > 1) this.offsets.pop();
      onChange();
    });
    this.older.addEventListener("click", () => {
      if (this.next === undefined) return;
      this.offsets.push(this.next);
      onChange();
    });
    this.el = h(
      "nav",
      {
        class: "pager",
        "aria-label": `${what} pages`,
        "data-testid": `${what.toLowerCase()}-pager`,
        hidden: true,
      },
      this.newer,
      this.label,
      this.older,
    );
  }

  get hasNext(): boolean {
    return this.next !== undefined;
  }

  get offset(): number {
    return this.offsets.at(-1) ?? 0;
  }

  /** Back to the first page (a new search or filter). */
  reset(): void {
    this.offsets = [0];
    this.next = undefined;
  }

  /** After a page was loaded: `next` from the answer. */
  update(next: number | undefined): void {
    this.next = next;
    const first = this.offsets.length === 1;
    this.newer.disabled = first;
    this.older.disabled = next === undefined;
    this.el.hidden = first && next === undefined;
    setText(this.label, `page ${this.offsets.length}`);
  }
}
