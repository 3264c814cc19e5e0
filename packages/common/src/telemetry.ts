import { context, isSpanContextValid, propagation, trace, type Context, type Span, SpanStatusCode, type Attributes } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

let provider: NodeTracerProvider | undefined;
/** Spans go to an exporter (OTLP, or a test's); else only their ids matter. */
let exporting = false;

const KEEP_IDS_ONLY: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

/**
 * Starts OpenTelemetry tracing for a process. Spans always get real ids so trace
 * context flows through gRPC and task launches; they are exported over OTLP
 * when OTEL_EXPORTER_OTLP_ENDPOINT is set (or to `exporter`, in tests).
 * Only the tracer provider (not the whole NodeSDK with its metrics and log
 * pipelines), and the OTLP exporter only when there is somewhere to export:
 * both weigh on every process's start-up.
 */
export async function initTelemetry(serviceName: string, exporter?: SpanExporter): Promise<void> {
  if (provider) return;
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  let processor = KEEP_IDS_ONLY;
  if (exporter) processor = new BatchSpanProcessor(exporter);
  else if (endpoint) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    processor = new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 500 });
  }
  exporting = processor !== KEEP_IDS_ONLY;
  provider = new NodeTracerProvider({ resource: resourceFromAttributes({ "service.name": serviceName }), spanProcessors: [processor] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
}

export async function shutdownTelemetry(): Promise<void> {
  const running = provider;
  provider = undefined;
  exporting = false;
  await running?.shutdown().catch(() => undefined);
}

export const tracer = () => trace.getTracer("ballast");

/** Whether the spans this process makes are exported; when not, a hot path may keep only their ids (see the scheduler's task spans). */
export const spansExported = (): boolean => exporting;

/** The W3C traceparent of a context (default: the active one), or "" when none. */
export function traceparentOf(ctx: Context = context.active()): string {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ?? "";
}

/**
 * The W3C traceparent of one span, formatted as the W3C propagator does (which this module
 * installs), without building a context and a carrier: the scheduler stamps one on every launch.
 */
export function traceparentOfSpan(span: Span): string {
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return "";
  return `00-${spanContext.traceId}-${spanContext.spanId}-0${Number(spanContext.traceFlags).toString(16)}`;
}

/** A context whose parent span is the given traceparent (the active context when empty). */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  if (!traceparent) return context.active();
  return propagation.extract(context.active(), { traceparent });
}

/** Runs `fn` in a new span, ending it (with error status on throw) when `fn` settles. */
export async function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, parent: Context = context.active()): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Records a failure that has no span of its own (a background call that will be retried): one short span with the error. */
export function traceFailure(name: string, err: unknown, attributes: Attributes = {}): void {
  const span = tracer().startSpan(name, { attributes });
  span.recordException(err instanceof Error ? err : new Error(String(err)));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}
