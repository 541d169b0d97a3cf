import type { TraceParent } from "../core/tracing.js";

/** The W3C Trace Context headers of a request (`traceparent`, `tracestate`), if it has them. */
export function traceParentOf(request: Request): TraceParent | undefined {
  const traceparent = request.headers.get("traceparent");
  if (!traceparent) return undefined;
  const tracestate = request.headers.get("tracestate");
  return { traceparent, ...(tracestate ? { tracestate } : {}) };
}
