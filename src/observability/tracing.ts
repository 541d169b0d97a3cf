import {
  parseTraceParent,
  type RunSpan,
  type RunTracing,
  type TraceParent,
} from "../core/tracing.js";
import type { RunRecord } from "../core/types.js";

/** The part of `@opentelemetry/api` used here (an optional peer dependency, loaded dynamically). */
type OtelApi = typeof import("@opentelemetry/api");
type Span = import("@opentelemetry/api").Span;

/**
 * Loads OpenTelemetry tracing when `@opentelemetry/api` is installed; undefined otherwise (then
 * nothing is traced and nothing costs). Spans go to whatever tracer provider the application
 * registered (none: the API's no-op spans).
 */
export async function loadTracing(
  load: () => Promise<OtelApi> = () => import("@opentelemetry/api"),
): Promise<RunTracing | undefined> {
  let api: OtelApi;
  try {
    api = await load();
  } catch {
    return undefined;
  }
  return new OtelRunTracing(api);
}

class OtelRunTracing implements RunTracing {
  private readonly tracer;

  constructor(private readonly api: OtelApi) {
    this.tracer = api.trace.getTracer("threadline");
  }

  startRun(run: RunRecord, parent?: TraceParent): RunSpan {
    const api = this.api;
    let ctx = api.ROOT_CONTEXT;
    const ids = parent ? parseTraceParent(parent.traceparent) : undefined;
    if (ids) {
      ctx = api.trace.setSpanContext(ctx, {
        traceId: ids.traceId,
        spanId: ids.spanId,
        traceFlags: ids.flags,
        isRemote: true,
        ...(parent?.tracestate ? { traceState: api.createTraceState?.(parent.tracestate) } : {}),
      } as import("@opentelemetry/api").SpanContext);
    }
    const span = this.tracer.startSpan(
      "threadline.run",
      {
        kind: api.SpanKind.INTERNAL,
        attributes: {
          "threadline.thread_id": run.threadId,
          "threadline.run_id": run.runId,
          "threadline.agent_id": run.agentId,
          "threadline.trigger": run.trigger.kind,
        },
      },
      ctx,
    );
    return new OtelRunSpan(api, this.tracer, span);
  }
}

class OtelRunSpan implements RunSpan {
  private readonly ctx;

  constructor(
    private readonly api: OtelApi,
    private readonly tracer: ReturnType<OtelApi["trace"]["getTracer"]>,
    private readonly span: Span,
  ) {
    this.ctx = api.trace.setSpan(api.ROOT_CONTEXT, span);
  }

  child(name: string, attributes: Record<string, string | number> = {}): RunSpan {
    const span = this.tracer.startSpan(name, { attributes }, this.ctx);
    return new OtelRunSpan(this.api, this.tracer, span);
  }

  headers(): Record<string, string> {
    const sc = this.span.spanContext();
    if (!this.api.trace.isSpanContextValid(sc)) return {};
    const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, "0");
    const state = sc.traceState?.serialize();
    return {
      traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}`,
      ...(state ? { tracestate: state } : {}),
    };
  }

  end(outcome?: { status?: string; error?: string }): void {
    if (outcome?.status) this.span.setAttribute("threadline.status", outcome.status);
    if (outcome?.error !== undefined) {
      this.span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: outcome.error });
    }
    this.span.end();
  }
}
