import { describe, expect, it } from "vitest";
import { TextOutput } from "./textOutput.js";

describe("TextOutput", () => {
  it("keeps the order of string lines and byte lines, across pieces", () => {
    const text = new TextOutput();
    const source = Buffer.from("xxé-bytes|yy");
    const expected: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 3 === 0) {
        text.addLineBytes(source, 2, 10);
        expected.push("é-bytes");
      } else {
        text.addLine(`line ${i} ü`);
        expected.push(`line ${i} ü`);
      }
    }
    const big = Buffer.alloc(1024 * 1024 + 5, 0x61);
    text.addLineBytes(big, 0, big.length);
    expected.push(big.toString());
    expect(text.recordsOut).toBe(10_001);
    expect(Buffer.from(text.finish()).toString("utf8")).toBe(`${expected.join("\n")}\n`);
  });

  it("is empty without lines", () => {
    expect(new TextOutput().finish().length).toBe(0);
  });
});
