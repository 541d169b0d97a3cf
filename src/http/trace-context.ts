import { type TraceParent, traceParentFrom } from "../core/tracing.js";

/** The W3C Trace Context headers of a request (`traceparent`, `tracestate`), if it has them. */
export function traceParentOf(request: Request): TraceParent | undefined {
  return traceParentFrom((name) => request.headers.get(name));
}
