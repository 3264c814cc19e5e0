import { context, propagation, trace, type Context, type Span, SpanStatusCode, type Attributes } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";

let sdk: NodeSDK | undefined;

const KEEP_IDS_ONLY: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

/**
 * Starts OpenTelemetry for a service. Spans always get real ids so trace
 * context flows through gRPC and task launches; they are exported over OTLP
 * when OTEL_EXPORTER_OTLP_ENDPOINT is set (or to `exporter`, in tests).
 */
export function initTelemetry(serviceName: string, exporter?: SpanExporter): void {
  if (sdk) return;
  const processors: SpanProcessor[] = [];
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (exporter) processors.push(new BatchSpanProcessor(exporter));
  else if (endpoint) processors.push(new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 500 }));
  // With nothing to export to, NodeSDK would register no tracer provider and every span would be
  // a no-op with an all-zero id: keep real ids so logs and history still link to a trace.
  else processors.push(KEEP_IDS_ONLY);
  sdk = new NodeSDK({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: processors,
    textMapPropagator: new W3CTraceContextPropagator(),
    instrumentations: [],
  });
  sdk.start();
}

export async function shutdownTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown().catch(() => undefined);
}

export const tracer = () => trace.getTracer("ballast");

/** The W3C traceparent of a context (default: the active one), or "" when none. */
export function traceparentOf(ctx: Context = context.active()): string {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ?? "";
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
