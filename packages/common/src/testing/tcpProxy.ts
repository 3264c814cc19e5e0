import { createServer, Socket, type AddressInfo, type Server } from "node:net";

/**
 * A TCP proxy for tests of what a service does when its database's network
 * misbehaves: frozen (a partition: nothing answers, nothing is refused) or
 * dropped connections. Real bytes to the real server otherwise: while frozen it
 * holds every byte in both directions, and delivers them when thawed, as TCP
 * does after a partition heals.
 */
export class FreezableProxy {
  private frozen = false;
  private held: Array<() => void> = [];
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(targetHost: string, targetPort: number): Promise<FreezableProxy> {
    const server = createServer();
    const proxy = new FreezableProxy(server);
    server.on("connection", (client) => proxy.join(client, new Socket().connect(targetPort, targetHost)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private join(a: Socket, b: Socket): void {
    for (const [from, to] of [[a, b], [b, a]] as const) {
      this.sockets.add(from);
      from.on("data", (chunk) => (this.frozen ? this.held.push(() => to.write(chunk)) : to.write(chunk)));
      from.on("close", () => to.destroy());
      from.on("error", () => to.destroy());
    }
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const deliver of this.held.splice(0)) deliver();
  }

  /** Drops every connection, as a restarting server or a reset link does. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A proxy in front of the server of a postgresql:// URL, and the URL that goes through it. */
export async function behindProxy(url: string): Promise<{ proxy: FreezableProxy; url: string }> {
  const direct = new URL(url);
  const proxy = await FreezableProxy.start(direct.hostname, Number(direct.port || 5432));
  const via = new URL(url);
  via.hostname = "127.0.0.1";
  via.port = String(proxy.port);
  return { proxy, url: via.toString() };
}
