import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readManifests, schemaProblems, podSpecOf, type Manifest } from "./deploy/k8s.js";
import { REPO } from "./support/cluster.js";

const hasCompose = spawnSync("docker-compose", ["--version"]).status === 0;
const BALLAST_SERVICES = ["executor-1", "executor-2", "history", "scheduler-1", "scheduler-2", "shuffle-1", "shuffle-2", "staging"];
const flag = (command: string[], name: string) => command[command.indexOf(name) + 1];

describe("docker-compose deploy", () => {
  // No Docker engine here: `docker-compose config` validates the file without one.
  it.skipIf(!hasCompose)(`is valid and wired as several hosts would be${hasCompose ? "" : " (skipped: docker-compose is not installed)"}`, () => {
    const config = parse(execFileSync("docker-compose", ["-f", "deploy/docker-compose.yml", "config"], { cwd: REPO, encoding: "utf8" }));
    const services = config.services as Record<string, any>;
    expect(Object.keys(services).sort()).toEqual([...BALLAST_SERVICES, "jaeger", "postgres"].sort());
    expect(services.jaeger.ports.map((p: any) => String(p.target ?? p).replace(/.*:/, ""))).toContain("4318");
    for (const name of BALLAST_SERVICES) {
      const service = services[name];
      expect(service.healthcheck?.test, `${name} has a healthcheck`).toBeDefined();
      expect(service.environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://jaeger:4318");
      // It listens on (so advertises) its own host name, never 0.0.0.0 or loopback.
      expect(flag(service.command, "--address"), name).toMatch(new RegExp(`^${name}:\\d+$`));
    }
    for (const name of BALLAST_SERVICES) {
      const store = services[name].environment.BALLAST_STORE;
      if (["scheduler-1", "scheduler-2", "history"].includes(name)) expect(store, name).toMatch(/^postgresql:\/\/[^@]+@postgres:5432\//);
      else expect(store, `${name} is not given the database password`).toBeUndefined();
    }
    for (const name of ["executor-1", "executor-2"]) {
      const command: string[] = services[name].command;
      expect(command, "executor ids are not pinned").not.toContain("--executor-id");
      expect(flag(command, "--scheduler")).toBe("scheduler-1:7077,scheduler-2:7077");
      // docker-compose v1 prints volumes as SOURCE:TARGET[:MODE], v2 as objects.
      const mounts = services[name].volumes.map((v: any) => (typeof v === "string" ? v.split(":").slice(0, 2).join(":") : `${v.source}:${v.target}`));
      expect(mounts, `${name} mounts the shared inputs`).toContain("inputs:/inputs");
    }
    expect(new Set(["executor-1", "executor-2"].map((n) => flag(services[n].command, "--node-id"))).size).toBe(2);
  });
});

describe("Kubernetes manifests (deploy/k8s)", async () => {
  const manifests = readManifests(join(REPO, "deploy/k8s"));
  const named = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name);
  const workloads = manifests.filter((m) => podSpecOf(m));
  const containers = (m: Manifest) => podSpecOf(m)!.containers;

  it("every object is valid against the Kubernetes API schema of its kind", async () => {
    expect(manifests.length).toBeGreaterThan(8);
    const problems = (await Promise.all(manifests.map(schemaProblems))).flat();
    expect(problems).toEqual([]);
  });

  it("the schema check rejects a broken object (it is not a rubber stamp)", async () => {
    const scheduler = named("Deployment", "ballast-scheduler")!;
    const broken = structuredClone(scheduler);
    broken.spec.replicas = "two";
    delete broken.spec.template.spec.containers[0].name;
    const problems = await schemaProblems(broken);
    expect(problems.join("\n")).toMatch(/replicas/);
    expect(problems.join("\n")).toMatch(/name/);
  });

  it("runs two schedulers on PostgreSQL, a node per machine, staging with its own volume", () => {
    const scheduler = named("Deployment", "ballast-scheduler")!;
    expect(scheduler.spec.replicas).toBe(2);
    const [schedulerContainer] = containers(scheduler);
    expect(flag(schedulerContainer.args, "--address")).toBe("$(POD_IP):7077");
    expect(schedulerContainer.env.find((e: any) => e.name === "BALLAST_STORE").valueFrom.secretKeyRef).toEqual({ name: "ballast-store", key: "BALLAST_STORE" });
    const node = named("DaemonSet", "ballast-node")!;
    const executor = containers(node).find((c) => c.name === "executor");
    expect(executor.args).not.toContain("--executor-id");
    expect(containers(node).map((c) => c.name).sort()).toEqual(["executor", "shuffle"]);
    expect(podSpecOf(node)!.volumes!.find((v) => v.name === "shuffle-data").hostPath.path).toBe("/var/lib/ballast/shuffle");
    expect(named("StatefulSet", "ballast-staging")!.spec.volumeClaimTemplates).toHaveLength(1);
    const history = containers(named("Deployment", "ballast-history")!)[0];
    expect(history.env.find((e: any) => e.name === "BALLAST_STORE")).toBeDefined();
  });

  it("every reference resolves: ConfigMaps, Secrets and their keys, claims, Service selectors", () => {
    const missing: string[] = [];
    const secretKeys = (name: string) => Object.keys({ ...named("Secret", name)?.stringData, ...named("Secret", name)?.data });
    for (const workload of workloads) {
      const spec = podSpecOf(workload)!;
      for (const container of spec.containers) {
        for (const from of container.envFrom ?? []) {
          if (from.configMapRef && !named("ConfigMap", from.configMapRef.name)) missing.push(`ConfigMap ${from.configMapRef.name}`);
          if (from.secretRef && !named("Secret", from.secretRef.name)) missing.push(`Secret ${from.secretRef.name}`);
        }
        for (const env of container.env ?? []) {
          const ref = env.valueFrom?.secretKeyRef;
          if (ref && !secretKeys(ref.name).includes(ref.key)) missing.push(`Secret ${ref.name} key ${ref.key}`);
        }
      }
      for (const volume of spec.volumes ?? []) {
        const claim = volume.persistentVolumeClaim?.claimName;
        if (claim && !named("PersistentVolumeClaim", claim)) missing.push(`claim ${claim}`);
      }
    }
    for (const service of manifests.filter((m) => m.kind === "Service")) {
      const selector = Object.entries(service.spec.selector as Record<string, string>);
      const targets = workloads.filter((w) => selector.every(([k, v]) => w.spec.template.metadata.labels[k] === v));
      if (targets.length === 0) missing.push(`pods for Service ${service.metadata.name}`);
      const ports = targets.flatMap((w) => containers(w).flatMap((c) => (c.ports ?? []).map((p: any) => p.name)));
      for (const port of service.spec.ports) if (!ports.includes(port.targetPort)) missing.push(`port ${port.targetPort} of Service ${service.metadata.name}`);
    }
    expect(missing).toEqual([]);
  });
});
