import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.js";
import { MAX_MESSAGE_BYTES } from "./grpc.js";
import { allPages, fillPage, indexAfter, pageSizeOf, type PageItemCodec } from "./paging.js";

/** Items that weigh what they say on the wire. */
const weighed: PageItemCodec<{ id: string; bytes: number }, string> = { toWire: (item) => item.id, encodedBytes: (id) => Number(id.split(":")[1]), keyOf: (item) => item.id };
const items = (...sizes: number[]) => sizes.map((bytes, i) => ({ id: `i${i}:${bytes}`, bytes }));

describe("paging", () => {
  it("takes 0 as the default page size and refuses sizes past the bound", () => {
    expect(pageSizeOf(0, { default: 10, max: 20 })).toBe(10);
    expect(pageSizeOf(20, { default: 10, max: 20 })).toBe(20);
    expect(() => pageSizeOf(21, { default: 10, max: 20 })).toThrow(/page_size must be/);
    expect(() => pageSizeOf(-1, { default: 10, max: 20 })).toThrow(InvalidArgumentError);
  });

  it("continues after the token's item and refuses a token of no item", () => {
    const list = items(1, 1, 1);
    expect(indexAfter(list, "", weighed.keyOf)).toBe(0);
    expect(indexAfter(list, "i1:1", weighed.keyOf)).toBe(2);
    expect(() => indexAfter(list, "nope", weighed.keyOf)).toThrow(/page_token "nope" is not from a previous page/);
  });

  it("ends a page at its size, or before half a message, but never empty", () => {
    const list = items(1, 1, 1, 1, 1);
    expect(fillPage(list, 0, 2, weighed)).toEqual({ items: ["i0:1", "i1:1"], nextPageToken: "i1:1" });
    expect(fillPage(list, 3, 2, weighed)).toEqual({ items: ["i3:1", "i4:1"], nextPageToken: "" });
    const heavy = items(MAX_MESSAGE_BYTES / 4, MAX_MESSAGE_BYTES / 4, 1, MAX_MESSAGE_BYTES);
    expect(fillPage(heavy, 0, 100, weighed).items).toHaveLength(2);
    expect(fillPage(heavy, 1, 100, weighed).items).toHaveLength(2); // the third item would pass half a message
    expect(fillPage(heavy, 3, 100, weighed)).toEqual({ items: [heavy[3]!.id], nextPageToken: "" }); // one item, however large
  });

  it("follows pages to the end", async () => {
    const list = items(1, 1, 1, 1, 1);
    const asked: string[] = [];
    const all = await allPages(async (token) => {
      asked.push(token);
      return fillPage(list, indexAfter(list, token, weighed.keyOf), 2, weighed);
    });
    expect(all).toEqual(list.map((item) => item.id));
    expect(asked).toEqual(["", "i1:1", "i3:1"]);
  });
});
