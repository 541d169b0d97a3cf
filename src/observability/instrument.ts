import type { Logger } from "../core/logger.js";
import { observeStore } from "../core/observed-store.js";
import type { ThreadStore } from "../core/store.js";
import { composeTelemetry, type Telemetry } from "../core/telemetry.js";
import { type MetricsOptions, type MetricsSources, ThreadlineMetrics } from "./metrics.js";
import { runLog } from "./run-log.js";

/** What a runtime reports through, and to whom (see `instrument`). */
export interface InstrumentOptions {
  store: ThreadStore;
  /** The run log goes here (none without a logger). */
  logger?: Logger | undefined;
  /** Prometheus metrics (default on); false: none. */
  metrics?: MetricsOptions | false | undefined;
  /** The application's own observer. */
  telemetry?: Telemetry | undefined;
  /** What the gauges read (the coordinator's counts; called only when scraped). */
  sources: MetricsSources;
}

/**
 * The observers of one runtime — metrics, the run log, the application's telemetry — and the
 * store as they see it (every call reported). `createThreadline` and a `ThreadlineAgentRunner`
 * with its own coordinator both make theirs here, so their runs count the same.
 */
export function instrument(opts: InstrumentOptions): {
  store: ThreadStore;
  telemetry: Telemetry;
  metrics: ThreadlineMetrics | undefined;
} {
  const metrics =
    opts.metrics === false
      ? undefined
      : new ThreadlineMetrics(opts.store.kind, opts.sources, opts.metrics);
  const telemetry = composeTelemetry([
    metrics,
    opts.logger ? runLog(opts.logger) : undefined,
    opts.telemetry,
  ]);
  return { store: observeStore(opts.store, telemetry), telemetry, metrics };
}
