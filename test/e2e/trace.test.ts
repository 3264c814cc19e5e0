import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startTestCluster, type TestCluster } from "../support/cluster.js";

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}

/** An in-process OTLP/HTTP (JSON) trace receiver standing in for Jaeger. */
function startReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const payload = JSON.parse(body);
        for (const rs of payload.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a: any) => a.key === "service.name")?.value?.stringValue ?? "";
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId, name: s.name, service });
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as any).port}`, spans })));
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let cluster: TestCluster;

beforeAll(async () => {
  receiver = await startReceiver();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  cluster = await startTestCluster({ nodes: 2, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
});

afterAll(async () => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  await cluster?.stop();
  receiver?.server.close();
});

describe("one trace per job", () => {
  it("links the client, scheduler job/stage/task spans and executor task spans in one trace", async () => {
    const res = await runCli(["submit", "--dir", cluster.dir, "test/fixtures/collect-count.ts", "--", "--mode", "count"]);
    expect(res.code, res.stderr).toBe(0);
    const submit = receiver.spans.find((s) => s.name === "ballast.submit");
    expect(submit, "the CLI exported its submit span").toBeDefined();
    // Traces are exported, so the CLI links the job's trace (Jaeger's UI by default).
    expect(res.stdout).toContain(`trace: http://localhost:16686/trace/${submit!.traceId}\n`);
    // The services export in batches; wait (bounded) for the executor's task spans and the scheduler's job span.
    const deadline = Date.now() + 40_000;
    const inTrace = () => receiver.spans.filter((s) => s.traceId === submit!.traceId);
    const complete = () => ["ballast-executor", "ballast-scheduler"].every((service) => inTrace().some((s) => s.service === service && (service !== "ballast-scheduler" || s.name.startsWith("job "))));
    while (Date.now() < deadline && !complete()) await new Promise((r) => setTimeout(r, 200));
    const spans = inTrace();
    const services = new Set(spans.map((s) => s.service));
    if (!complete()) console.log("spans received:", JSON.stringify(receiver.spans.map((s) => [s.service, s.name, s.traceId === submit!.traceId])));
    expect([...services].sort()).toEqual(expect.arrayContaining(["ballast-cli", "ballast-scheduler", "ballast-executor"]));
    expect(spans.some((s) => s.service === "ballast-scheduler" && s.name.startsWith("job "))).toBe(true);
    expect(spans.some((s) => s.service === "ballast-scheduler" && s.name.startsWith("stage "))).toBe(true);
    expect(spans.some((s) => s.service === "ballast-scheduler" && s.name.startsWith("task "))).toBe(true);
    const ids = new Set(spans.map((s) => s.spanId));
    const executorRoots = spans.filter((s) => s.service === "ballast-executor" && s.name === "task.run");
    expect(executorRoots.length).toBeGreaterThan(0);
    for (const span of executorRoots) expect(ids.has(span.parentSpanId!), "executor task span has its scheduler task span as parent").toBe(true);
  });
});
