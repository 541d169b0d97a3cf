import { HEADER_TRACEPARENT, HEADER_TRACESTATE } from "../protocol.js";
import type { RunRecord, TraceParent } from "./types.js";

export type { TraceParent };

/** W3C Trace Context `traceparent`: `<version>-<32 hex trace id>-<16 hex span id>-<2 hex flags>`. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** The W3C limit of a `tracestate` header worth propagating (longer ones may be dropped). */
const MAX_TRACESTATE = 512;

/** A `traceparent` taken apart. */
export interface TraceIds {
  traceId: string;
  spanId: string;
  flags: number;
}

/**
 * The trace ids of a `traceparent`, or undefined when it is not a valid one (version `ff`, an
 * all-zero id, not the W3C shape): such a header is ignored, as the spec asks.
 */
export function parseTraceParent(traceparent: string): TraceIds | undefined {
  const m = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (!m || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, flags: Number.parseInt(m[4]!, 16) };
}

/**
 * The W3C Trace Context headers (`traceparent`, `tracestate`) of a request, given a header
 * lookup (a `Headers`' `get`, or a lower-cased record's); undefined without a `traceparent`.
 */
export function traceParentFrom(
  header: (name: string) => string | null | undefined,
): TraceParent | undefined {
  const traceparent = header(HEADER_TRACEPARENT);
  if (!traceparent) return undefined;
  const tracestate = header(HEADER_TRACESTATE);
  return { traceparent, ...(tracestate ? { tracestate } : {}) };
}

/**
 * The trace context worth keeping with a run (it is stored with it): a valid `traceparent`,
 * normalised, and a `tracestate` within the W3C size; undefined for anything else.
 */
export function traceToKeep(parent: TraceParent | undefined): TraceParent | undefined {
  if (!parent || !parseTraceParent(parent.traceparent)) return undefined;
  const tracestate = parent.tracestate?.trim();
  return {
    traceparent: parent.traceparent.trim().toLowerCase(),
    ...(tracestate && tracestate.length <= MAX_TRACESTATE ? { tracestate } : {}),
  };
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
