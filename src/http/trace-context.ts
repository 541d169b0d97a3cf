import type { TraceParent } from "../core/tracing.js";
import { HEADER_TRACEPARENT, HEADER_TRACESTATE } from "../protocol.js";

/** The W3C Trace Context headers of a request (`traceparent`, `tracestate`), if it has them. */
export function traceParentOf(request: Request): TraceParent | undefined {
  const traceparent = request.headers.get(HEADER_TRACEPARENT);
  if (!traceparent) return undefined;
  const tracestate = request.headers.get(HEADER_TRACESTATE);
  return { traceparent, ...(tracestate ? { tracestate } : {}) };
}
