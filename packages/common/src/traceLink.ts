/**
 * Links to a job's trace in a tracing UI, from a template with a {traceId} placeholder: the
 * history UI's --trace-url and the CLI's, both defaulting to BALLAST_TRACE_URL, then Jaeger's
 * UI on its default port (deploy/ runs Jaeger).
 */
export const DEFAULT_TRACE_URL = "http://localhost:16686/trace/{traceId}";

export function traceUrlTemplate(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit || env.BALLAST_TRACE_URL || DEFAULT_TRACE_URL;
}

export function traceLink(template: string, traceId: string): string {
  return template.replaceAll("{traceId}", encodeURIComponent(traceId));
}
