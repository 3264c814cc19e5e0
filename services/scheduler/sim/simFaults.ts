/**
 * Fault injection: executor deaths, node losses (one or two at once, found
 * by the probe), corrupt blocks, stopped executors (SIGSTOP), decommissions
 * (the node goes away after its deadline), scheduler crashes (the state
 * rebuilt by replaying the inputs must equal the state before the crash), and
 * memory copies of cached partitions evicted (reported, or silently: the next
 * registration's report must put the registry right).
 */
import { isDeepStrictEqual } from "node:util";
import { step } from "../src/core/step.js";
import { createState } from "../src/core/state.js";
import type { FaultKind, SimNode } from "./simModel.js";
import { cachedRefOf, SimExecutors } from "./simExecutors.js";

export abstract class SimFaults extends SimExecutors {
  /** A fault of this kind on a random healthy node (a scheduler crash needs none). */
  protected inject(kind: FaultKind): void {
    const candidates = this.nodes.filter((node) => node.executorUp && !node.paused && !node.decommissioning);
    const node = candidates[Math.floor(this.random() * candidates.length)];
    if ((!node && kind !== "schedulerCrash") || (this.schedulerDown && kind === "decommission")) return;
    this.faultsInjected++;
    this.faultCounts[kind] = (this.faultCounts[kind] ?? 0) + 1;
    switch (kind) {
      case "executorKill":
        return this.kill(node!, false);
      case "nodeLoss":
        return this.kill(node!, true);
      case "twoNodesLost": {
        const other = candidates.filter((candidate) => candidate !== node)[Math.floor(this.random() * (candidates.length - 1))];
        this.kill(node!, true);
        if (other) this.kill(other, true);
        return;
      }
      case "corruptBlock":
        return this.corruptBlock(node!);
      case "sigstop":
        return this.pause(node!);
      case "decommission":
        return this.decommission(node!);
      case "schedulerCrash":
        return this.crashScheduler();
      case "cacheEviction":
        return this.evictCached(node!);
    }
  }

  /** The executor evicts one memory copy; half the time its report is lost with a broken stream. */
  protected evictCached(node: SimNode): void {
    const held = this.memoryCache.get(node.executorId);
    const blockKeys = [...(held ?? [])];
    if (!held || blockKeys.length === 0) return;
    const blockKey = blockKeys[Math.floor(this.random() * blockKeys.length)]!;
    held.delete(blockKey);
    if (this.random() < 0.5) this.fromExecutor(node, node.executorId, { type: "cachedPartitionsDropped", executorId: node.executorId, partitions: [cachedRefOf(blockKey)] });
  }

  /** The executor process dies; with `nodeLost` its shuffle service and data too. It comes back as a new executor id. */
  protected kill(node: SimNode, nodeLost: boolean, replaceAfter = 500 + this.random() * 3000): void {
    if (!node.executorUp) return;
    node.executorUp = false;
    node.paused = false;
    node.deferred = [];
    node.buffered = [];
    for (const taskId of this.tasksOf(node)) this.running.delete(taskId);
    this.drivers.delete(node.executorId); // its driver processes die with it
    if (nodeLost) {
      node.service.up = false;
      node.service.blocks.clear();
      node.replaced = true;
    }
    // Half the time the stream breaks visibly; otherwise only the heartbeat timeout tells.
    if (node.session && this.random() < 0.5) this.send({ type: "executorLost", executorId: node.executorId, reason: "stream closed" });
    node.session = false;
    this.at(replaceAfter, () => this.restart(node));
  }

  protected restart(node: SimNode): void {
    if (node.executorUp) return;
    node.generation++;
    node.executorId = `e${node.index}.${node.generation}`;
    if (node.replaced) {
      // A fresh machine reusing the node id: new shuffle service, new address.
      node.decommissioning = false;
      node.replaced = false;
      node.service = this.newService(`10.${node.generation}.0.${node.index}:7337`);
    }
    node.service.up = true;
    node.executorUp = true;
    this.register(node);
  }

  protected corruptBlock(node: SimNode): void {
    const keys = [...node.service.blocks.keys()];
    if (keys.length > 0) node.service.blocks.set(keys[Math.floor(this.random() * keys.length)]!, true);
  }

  /** SIGSTOP, then SIGCONT: it may be declared lost meanwhile and must then re-register. */
  protected pause(node: SimNode): void {
    node.paused = true;
    this.at(1000 + this.random() * 3000, () => {
      if (!node.paused) return;
      node.paused = false;
      if (!node.session) this.reconnect(node);
      for (const resume of node.deferred.splice(0)) resume();
    });
  }

  protected decommission(node: SimNode): void {
    node.decommissioning = true;
    this.decommissionedAddresses.add(node.service.address);
    const deadlineMs = this.now + 1000 + Math.round(this.random() * 3000);
    this.send({ type: "decommissionNode", nodeId: node.nodeId, deadlineMs, reason: "scale-in" });
    // The node goes away some time after its deadline; a fresh one takes its id.
    this.at(deadlineMs - this.now + this.random() * 1000, () => this.kill(node, true, 300 + this.random() * 1000));
  }

  /** The scheduler dies; a new one replays the inputs (which must rebuild the same state) and takes over. */
  protected crashScheduler(): void {
    if (this.schedulerDown) return;
    this.schedulerDown = true;
    const replayed = createState(this.baseConf);
    for (const { input, now } of this.inputs) step(replayed, input, now);
    if (!isDeepStrictEqual(replayed, this.state)) this.checks.violation("the state rebuilt by replaying the inputs differs from the state before the crash");
    this.state = replayed;
    for (const node of this.nodes) node.session = false;
    this.at(200 + this.random() * 1500, () => {
      this.schedulerDown = false;
      this.send({ type: "recoveryStarted", epoch: ++this.epoch });
      for (const node of this.nodes) this.at(this.random() * 500, () => this.reconnect(node));
    });
  }
}
