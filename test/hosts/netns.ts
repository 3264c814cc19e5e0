import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";

/**
 * Test hosts with their own network stacks: one network namespace per host, each with a veth
 * pair whose outer end sits on one bridge in the root namespace. The root namespace gets the
 * bridge's address and acts as the "operator's machine" (the CLI, health checks); everything
 * else is addressed only by the hosts' own addresses on SUBNET.
 *
 * Faults are per host, applied inside its namespace so they never touch the machine's own
 * network: nftables drop rules (cut / one-way / port), and `tc netem` on its interface (loss,
 * delay). heal() removes them all; teardown() removes the namespaces and the bridge.
 */
export const SUBNET = "10.77.0";
const BRIDGE = "bhbr0";
/** Namespaces this harness owns are named with this prefix (cleaned of leftovers at start). */
const PREFIX = "bh-";
const TABLE = "ballast_faults";
/** One run at a time on a machine: the bridge, names and subnet are fixed (other worktrees may test too). */
const LOCK = "/run/ballast-test-hosts.pid";
const LOCK_WAIT_MS = 150_000;
/** No ip/nft/tc call should ever take this long; a hang fails the step instead of the run. */
const STEP_TIMEOUT_MS = 10_000;

function run(cmd: string, args: string[], options: { input?: string; ignoreFailure?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", timeout: STEP_TIMEOUT_MS, input: options.input, stdio: ["pipe", "pipe", "pipe"] });
  } catch (err) {
    if (options.ignoreFailure) return "";
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Why namespaces cannot be made here, or undefined when they can (checked by making one). */
export function namespacesUnavailable(): string | undefined {
  if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "network namespaces need root (ip netns add)";
  for (const tool of ["ip", "nft", "tc"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `${tool} is not installed (apt-get install iproute2 nftables)`;
    }
  }
  const probe = `${PREFIX}probe-${process.pid}`;
  try {
    run("ip", ["netns", "add", probe]);
    run("ip", ["netns", "del", probe]);
    return undefined;
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  }
}

/** Why `tc netem` (delay) is missing here, or undefined: kernels without sch_netem refuse the qdisc. */
export function netemUnavailable(): string | undefined {
  const probe = `${PREFIX}netem-${process.pid}`;
  try {
    run("ip", ["netns", "add", probe]);
    run("ip", ["netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]);
    return undefined;
  } catch (err) {
    return `tc netem is unavailable (kernel without sch_netem?): ${(err as Error).message}`;
  } finally {
    run("ip", ["netns", "del", probe], { ignoreFailure: true });
  }
}

export interface Host {
  name: string;
  /** Its namespace (`ip netns exec <ns> ...`). */
  ns: string;
  ip: string;
  /** The veth end on the bridge, in the root namespace. */
  outer: string;
}

export class Network {
  readonly hosts = new Map<string, Host>();
  readonly operatorIp = `${SUBNET}.1`;

  /** Waits for the machine's test hosts to be free, removes what a killed run left, then makes the bridge. */
  static async create(): Promise<Network> {
    await acquireLock();
    Network.cleanLeftovers();
    run("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    run("ip", ["addr", "add", `${SUBNET}.1/24`, "dev", BRIDGE]);
    run("ip", ["link", "set", BRIDGE, "up"]);
    return new Network();
  }

  static cleanLeftovers(): void {
    for (const ns of run("ip", ["netns", "list"], { ignoreFailure: true }).split("\n")) {
      const name = ns.split(" ")[0];
      if (name?.startsWith(PREFIX)) run("ip", ["netns", "del", name], { ignoreFailure: true });
    }
    // The kernel frees a deleted namespace's veths lazily; deleting the outer end is immediate.
    for (const line of run("ip", ["-o", "link", "show"], { ignoreFailure: true }).split("\n")) {
      const link = /^\d+: (bh\d+)@/.exec(line)?.[1];
      if (link) run("ip", ["link", "del", link], { ignoreFailure: true });
    }
    run("ip", ["link", "del", BRIDGE], { ignoreFailure: true });
  }

  /** A host at SUBNET.<octet>, with a drop-rule table ready and loopback up. */
  addHost(name: string, octet: number): Host {
    const host = { name, ns: `${PREFIX}${name}`, ip: `${SUBNET}.${octet}`, outer: `bh${octet}` }; // interface names are at most 15 characters
    const outer = host.outer;
    run("ip", ["netns", "add", host.ns]);
    run("ip", ["link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", host.ns]);
    run("ip", ["link", "set", outer, "master", BRIDGE, "up"]);
    this.exec(host, "ip", ["addr", "add", `${host.ip}/24`, "dev", "eth0"]);
    this.exec(host, "ip", ["link", "set", "eth0", "up"]);
    this.exec(host, "ip", ["link", "set", "lo", "up"]);
    this.hosts.set(name, host);
    this.resetRules(host);
    return host;
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no test host ${name}`);
    return host;
  }

  exec(host: Host, cmd: string, args: string[], input?: string): string {
    return run("ip", ["netns", "exec", host.ns, cmd, ...args], { input });
  }

  /** Drops everything between a and each of `others` both ways (a symmetric partition). */
  cut(a: string, others: string[]): void {
    for (const b of others) {
      this.cutOneWay(a, b);
      this.cutOneWay(b, a);
    }
  }

  /** Cuts the host off from every other host and the operator: nothing in or out of its interface. */
  isolate(name: string): void {
    const host = this.host(name);
    this.nft(host, [`add rule inet ${TABLE} input iifname "eth0" drop`, `add rule inet ${TABLE} output oifname "eth0" drop`]);
  }

  /** Packets from `from` to `to` are dropped as they leave `from`; the other direction still flows. */
  cutOneWay(from: string, to: string): void {
    this.rule(this.host(from), `add rule inet ${TABLE} output ip daddr ${this.host(to).ip} drop`);
  }

  /** Connections from `peers` to `port` on `host` are dropped; everything else still flows. */
  blockPort(host: string, port: number, peers: string[]): void {
    const sources = peers.map((p) => this.host(p).ip).join(", ");
    this.rule(this.host(host), `add rule inet ${TABLE} input ip saddr { ${sources} } tcp dport ${port} drop`);
  }

  /**
   * Loss and delay on everything the host sends (apply to every host for every link). Loss is an
   * nftables random drop, so it works on any kernel with nftables; delay needs `tc netem`.
   */
  degrade(name: string, { lossPercent, delayMs = 0 }: { lossPercent: number; delayMs?: number }): void {
    const host = this.host(name);
    if (lossPercent > 0) this.rule(host, `add rule inet ${TABLE} output oifname "eth0" numgen random mod 100 < ${lossPercent} drop`);
    if (delayMs > 0) this.exec(host, "tc", ["qdisc", "replace", "dev", "eth0", "root", "netem", "delay", `${delayMs}ms`]);
  }

  /** Removes every fault from every host. */
  heal(): void {
    for (const host of this.hosts.values()) {
      this.resetRules(host);
      run("ip", ["netns", "exec", host.ns, "tc", "qdisc", "del", "dev", "eth0", "root"], { ignoreFailure: true });
    }
  }

  teardown(): void {
    for (const host of this.hosts.values()) {
      run("ip", ["link", "del", host.outer], { ignoreFailure: true });
      run("ip", ["netns", "del", host.ns], { ignoreFailure: true });
    }
    this.hosts.clear();
    run("ip", ["link", "del", BRIDGE], { ignoreFailure: true });
    releaseLock();
  }

  private resetRules(host: Host): void {
    run("ip", ["netns", "exec", host.ns, "nft", "delete", "table", "inet", TABLE], { ignoreFailure: true });
    this.nft(host, [
      `add table inet ${TABLE}`,
      `add chain inet ${TABLE} input { type filter hook input priority 0; }`,
      `add chain inet ${TABLE} output { type filter hook output priority 0; }`,
    ]);
  }

  private rule(host: Host, rule: string): void {
    this.nft(host, [rule]);
  }

  private nft(host: Host, commands: string[]): void {
    this.exec(host, "nft", ["-f", "-"], commands.join("\n") + "\n");
  }
}

async function acquireLock(): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: "wx" });
      return;
    } catch {
      const holder = Number(readFileSync(LOCK, "utf8").trim() || 0);
      if (!holder || !processExists(holder)) rmSync(LOCK, { force: true }); // a killed run's: its leftovers get cleaned
      else if (Date.now() > deadline) throw new Error(`the test hosts are in use by pid ${holder} (${LOCK}) for over ${LOCK_WAIT_MS / 1000}s`);
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function releaseLock(): void {
  try {
    if (readFileSync(LOCK, "utf8").trim() === String(process.pid)) rmSync(LOCK, { force: true });
  } catch {
    // not held
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
