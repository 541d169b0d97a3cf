import { RUN_STATUSES, type RunRecord, TRIGGER_KINDS } from "../core/types.js";
import type { Api, Page } from "./api.js";
import { h } from "./dom.js";
import { Pager } from "./pager.js";
import { RunTimeline } from "./run-timeline.js";

/** Runs per page. */
export const RUN_PAGE = 50;

const PROBLEMS = "failed,cancelled,interrupted";

function select(name: string, label: string, options: [string, string][]): HTMLSelectElement {
  return h(
    "select",
    { name, "aria-label": label, "data-testid": `run-filter-${name}` },
    ...options.map(([value, text]) => h("option", { value }, text)),
  );
}

/**
 * The Runs panel: a page of the thread's runs, filtered by status and trigger on the server.
 * The first unfiltered page is the thread view's own recent runs (one request per refresh).
 */
export class RunList {
  readonly el: HTMLElement;
  readonly timeline: RunTimeline;
  private readonly pager: Pager;
  private readonly status = select("status", "Filter runs by status", [
    ["", "any status"],
    [PROBLEMS, "not succeeded"],
    ...RUN_STATUSES.map((s): [string, string] => [s, s]),
  ]);
  private readonly trigger = select("trigger", "Filter runs by trigger", [
    ["", "any trigger"],
    ...TRIGGER_KINDS.map((k): [string, string] => [k, k]),
  ]);
  private generation = 0;

  constructor(
    private readonly api: Api,
    private readonly threadId: string,
    runHref: (runId: string) => string,
    /** Asks for a refresh (a filter or the page changed). */
    changed: () => void,
  ) {
    this.timeline = new RunTimeline(runHref);
    this.pager = new Pager("Runs", changed);
    for (const s of [this.status, this.trigger]) {
      s.addEventListener("change", () => {
        this.pager.reset();
        changed();
      });
    }
    this.el = h(
      "div",
      { class: "run-list" },
      h("div", { class: "filters" }, this.status, this.trigger),
      this.timeline.el,
      this.pager.el,
    );
  }

  /** True on the first page with no filter: what the recent runs already show. */
  get isDefault(): boolean {
    return this.pager.offset === 0 && !this.status.value && !this.trigger.value;
  }

  /** Shows an answer for the first unfiltered page. */
  show(page: Page<"runs", RunRecord>): void {
    this.generation++;
    this.timeline.set(page.runs);
    this.pager.update(page.next);
  }

  /** Loads and shows the current page with the current filters; resolves to its runs. */
  async load(): Promise<RunRecord[]> {
    const generation = ++this.generation;
    const page = await this.api.listRuns(this.threadId, {
      limit: RUN_PAGE,
      offset: this.pager.offset,
      status: this.status.value,
      trigger: this.trigger.value,
    });
    if (generation === this.generation) {
      this.timeline.set(
        page.runs,
        page.next === undefined ? "No matching runs." : "No matching runs here: try Older.",
      );
      this.pager.update(page.next);
    }
    return page.runs;
  }
}
