import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CutOffReason, RunEnd, Telemetry, WebhookOutcome } from "../core/telemetry.js";
import type { RunRecord } from "../core/types.js";

export interface MetricsOptions {
  /** Serve `GET /metrics` without credentials (e.g. on a private network). Default false. */
  open?: boolean;
  /** Also export Node's process metrics (`process_*`, `nodejs_*`). Default false (the CLI: true). */
  processMetrics?: boolean;
}

/** What the gauges read when scraped. */
export interface MetricsSources {
  queued(): number;
  running(): number;
}

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const LAG_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Prometheus metrics of one Threadline instance (README "Metrics" lists them). Labels are
 * bounded: agent ids, trigger kinds, statuses, store kinds, hook ids and route patterns, never
 * thread or run ids.
 */
export class ThreadlineMetrics implements Telemetry {
  readonly registry = new Registry();
  private readonly runsQueued: Counter<"agent" | "trigger">;
  private readonly runsStarted: Counter<"agent" | "trigger">;
  private readonly runsEnded: Counter<"agent" | "trigger" | "status">;
  private readonly runDuration: Histogram<"agent" | "trigger" | "status">;
  private readonly firstEvent: Histogram<"agent" | "trigger">;
  private readonly queueWait: Histogram<"agent" | "trigger">;
  private readonly eventsAppended: Counter<"store">;
  private readonly appendSeconds: Histogram<"store">;
  private readonly replayReads: Counter<"store">;
  private readonly storeErrors: Counter<"store" | "op">;
  private readonly bytesWritten: Counter;
  private readonly cutOff: Counter<"reason">;
  private readonly tickLag: Histogram;
  private readonly ticksMissed: Counter;
  private readonly deliveries: Counter<"hook" | "outcome">;
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly requestSeconds: Histogram<"method" | "route">;
  private followersNow = 0;

  constructor(
    private readonly storeKind: string,
    sources: MetricsSources,
    opts: MetricsOptions = {},
  ) {
    const registers = [this.registry];
    const runLabels = ["agent", "trigger"] as const;
    this.runsQueued = new Counter({
      name: "threadline_runs_queued_total",
      help: "Runs accepted (queued) by this instance",
      labelNames: runLabels,
      registers,
    });
    this.runsStarted = new Counter({
      name: "threadline_runs_started_total",
      help: "Runs this instance started executing",
      labelNames: runLabels,
      registers,
    });
    this.runsEnded = new Counter({
      name: "threadline_runs_ended_total",
      help: "Runs ended (executed here, cancelled while queued here, or closed by recovery here)",
      labelNames: [...runLabels, "status"],
      registers,
    });
    this.runDuration = new Histogram({
      name: "threadline_run_duration_seconds",
      help: "From a run's start to its end",
      labelNames: [...runLabels, "status"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.firstEvent = new Histogram({
      name: "threadline_run_first_event_seconds",
      help: "From a run's start to its agent's first event",
      labelNames: runLabels,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({
      name: "threadline_run_queue_wait_seconds",
      help: "From a run's acceptance to its start",
      labelNames: runLabels,
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: "threadline_runs_queue_depth",
      help: "Runs this instance accepted that have not started yet",
      registers,
      collect() {
        this.set(sources.queued());
      },
    });
    new Gauge({
      name: "threadline_runs_running",
      help: "Runs executing on this instance",
      registers,
      collect() {
        this.set(sources.running());
      },
    });
    this.eventsAppended = new Counter({
      name: "threadline_events_appended_total",
      help: "Events committed to thread logs",
      labelNames: ["store"],
      registers,
    });
    this.appendSeconds = new Histogram({
      name: "threadline_store_append_seconds",
      help: "Latency of the store's appends (one batch each)",
      labelNames: ["store"],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.replayReads = new Counter({
      name: "threadline_replay_reads_total",
      help: "Reads of thread logs from the store (replays, catch-ups of slow followers)",
      labelNames: ["store"],
      registers,
    });
    this.storeErrors = new Counter({
      name: "threadline_store_errors_total",
      help: "Store calls that failed",
      labelNames: ["store", "op"],
      registers,
    });
    const self = this;
    new Gauge({
      name: "threadline_followers",
      help: "Follow streams open on this instance",
      registers,
      collect() {
        this.set(self.followersNow);
      },
    });
    this.bytesWritten = new Counter({
      name: "threadline_follower_bytes_total",
      help: "Bytes written to SSE followers",
      registers,
    });
    this.cutOff = new Counter({
      name: "threadline_followers_cut_off_total",
      help: "Followers cut off (slow: stopped reading) or sent back to the store (overflow)",
      labelNames: ["reason"],
      registers,
    });
    this.tickLag = new Histogram({
      name: "threadline_schedule_tick_lag_seconds",
      help: "How late a schedule tick fired",
      buckets: LAG_BUCKETS,
      registers,
    });
    this.ticksMissed = new Counter({
      name: "threadline_schedule_ticks_missed_total",
      help: "Schedule ticks missed (skipped, or folded into a catch-up run)",
      registers,
    });
    this.deliveries = new Counter({
      name: "threadline_webhook_deliveries_total",
      help: "Webhook deliveries by outcome",
      labelNames: ["hook", "outcome"],
      registers,
    });
    this.requests = new Counter({
      name: "threadline_http_requests_total",
      help: "HTTP requests by route pattern and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: "threadline_http_request_duration_seconds",
      help: "Time to a response's headers, by route pattern",
      labelNames: ["method", "route"],
      buckets: FAST_BUCKETS,
      registers,
    });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** The text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  runQueued(run: RunRecord): void {
    this.runsQueued.inc(labels(run));
  }

  runStarted(run: RunRecord, at: number): void {
    this.runsStarted.inc(labels(run));
    this.queueWait.observe(labels(run), Math.max(0, at - run.createdAt) / 1000);
  }

  runFirstEvent(run: RunRecord, at: number): void {
    this.firstEvent.observe(labels(run), Math.max(0, at - (run.startedAt ?? at)) / 1000);
  }

  runEnded(run: RunRecord, end: RunEnd): void {
    const l = { ...labels(run), status: end.status };
    this.runsEnded.inc(l);
    if (run.startedAt !== undefined) {
      this.runDuration.observe(l, Math.max(0, end.at - run.startedAt) / 1000);
    }
  }

  storeCall(op: string, seconds: number, failed: boolean, events?: number): void {
    const store = this.storeKind;
    if (failed) this.storeErrors.inc({ store, op });
    else if (op === "append") {
      this.appendSeconds.observe({ store }, seconds);
      this.eventsAppended.inc({ store }, events ?? 0);
    } else if (op === "read" || op === "readText") this.replayReads.inc({ store });
  }

  followerOpened(): void {
    this.followersNow++;
  }

  followerClosed(): void {
    this.followersNow--;
  }

  followerBytes(bytes: number): void {
    this.bytesWritten.inc(bytes);
  }

  followerCutOff(reason: CutOffReason): void {
    this.cutOff.inc({ reason });
  }

  scheduleFired(lagSeconds: number): void {
    this.tickLag.observe(Math.max(0, lagSeconds));
  }

  scheduleMissed(): void {
    this.ticksMissed.inc();
  }

  webhookDelivery(hookId: string, outcome: WebhookOutcome): void {
    this.deliveries.inc({ hook: hookId, outcome });
  }

  /** One answered request: `route` is the matched pattern (`/threads/:threadId`), never the path. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.requestSeconds.observe({ method, route }, seconds);
  }
}

const labels = (run: RunRecord) => ({ agent: run.agentId, trigger: run.trigger.kind });
