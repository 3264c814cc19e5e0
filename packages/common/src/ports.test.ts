import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { ephemeralPortRange, freePort } from "./ports.js";

describe("freePort", () => {
  it("hands out a bindable port below the range outgoing connections draw from", async () => {
    const port = await freePort();
    expect(port).toBeLessThan(ephemeralPortRange().low);
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
    await new Promise((resolve) => server.close(resolve));
  });
});
