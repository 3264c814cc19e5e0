import { context, isSpanContextValid, propagation, trace, TraceFlags, type Context, type Span, SpanStatusCode, type Attributes } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, RandomIdGenerator, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
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

/** A W3C traceparent as the W3C propagator accepts it: version (not ff), trace id, span id (neither all zeros), flags. */
const TRACEPARENT = /^\s?((?!ff)[\da-f]{2})-((?![0]{32})[\da-f]{32})-((?![0]{16})[\da-f]{16})-([\da-f]{2})(-.*)?\s?$/;

/**
 * A context whose parent span is the given traceparent (the active context when empty or
 * malformed). Parsed here, as the W3C propagator would, rather than through a carrier and the
 * global propagator: the executor reads one on every task launch.
 */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  const active = context.active();
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  // Version 00 has exactly four fields; later versions may append more.
  if (!match || (match[1] === "00" && match[5])) return active;
  return trace.setSpanContext(active, { traceId: match[2], spanId: match[3], traceFlags: parseInt(match[4], 16), isRemote: true });
}

/** The SDK's own id generator, so id-only spans get their ids as recorded spans do. */
const ids = new RandomIdGenerator();

/**
 * A span of the parent's trace (a new trace without one) that keeps only its ids: what a
 * traceparent on a launch and history's trace link need. With no exporter the SDK's spans are
 * dropped at their end anyway, and building them (attributes copied, two clock reads, the
 * sampler and processor calls) was about 7% of the scheduler's CPU and 15-20% of an
 * executor's main thread on the empty-task bench.
 */
export function idOnlySpan(parent: Context): Span {
  const parentIds = trace.getSpanContext(parent);
  const inTrace = parentIds !== undefined && isSpanContextValid(parentIds);
  return trace.wrapSpanContext({
    traceId: inTrace ? parentIds.traceId : ids.generateTraceId(),
    spanId: ids.generateSpanId(),
    traceFlags: inTrace ? parentIds.traceFlags : TraceFlags.SAMPLED,
  });
}

/** Runs `fn` in a new span, ending it (with error status on throw) when `fn` settles. */
export async function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, parent: Context = context.active()): Promise<T> {
  if (!exporting) {
    // Nothing records it: children and traceparents still see its ids through the active context.
    const span = idOnlySpan(parent);
    return context.with(trace.setSpan(parent, span), fn, undefined, span);
  }
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
  if (!exporting) return;
  const span = tracer().startSpan(name, { attributes });
  span.recordException(err instanceof Error ? err : new Error(String(err)));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}
