import type { RunRecord } from "./types.js";

/** W3C Trace Context of the request that started a run (`traceparent`, `tracestate`). */
export interface TraceParent {
  traceparent: string;
  tracestate?: string;
}

/**
 * A span and the spans under it. The core only starts, nests and ends spans; the OpenTelemetry
 * adapter (`src/observability/tracing.ts`) is loaded only when `@opentelemetry/api` is there.
 */
export interface RunSpan {
  child(name: string, attributes?: Record<string, string | number>): RunSpan;
  /** `traceparent` (and `tracestate`) naming this span, for a request made under it. */
  headers(): Record<string, string>;
  /** Ends the span; `error` marks it failed. */
  end(outcome?: { status?: string; error?: string }): void;
}

export interface RunTracing {
  /** The span of a run, a child of the trace of the request that started it when known. */
  startRun(run: RunRecord, parent?: TraceParent): RunSpan;
}
