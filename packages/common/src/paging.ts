/**
 * Paged list answers (the scheduler's ListJobs, history's ListTasks and ListEvents),
 * so a long list never becomes one message too big to send. A page holds at most
 * page_size items (0 means the call's default) and ends before its encoded size
 * passes half a message; it always holds at least one item, each of which fits a
 * message. next_page_token is the key of the page's last item, opaque to clients,
 * which send it back as page_token; it is empty on the last page.
 */
import { InvalidArgumentError } from "./errors.js";
import { MAX_MESSAGE_BYTES } from "./grpc.js";
import { integerProblem } from "./limits.js";

export interface PageSizes {
  /** Items in a page when the request asks 0. */
  default: number;
  /** The most a request may ask. */
  max: number;
}

export interface Page<W> {
  items: W[];
  nextPageToken: string;
}

/** How one item goes on the wire and what it weighs there. */
export interface PageItemCodec<T, W> {
  toWire(item: T): W;
  encodedBytes(wire: W): number;
  /** What a page ending at this item gives as next_page_token. */
  keyOf(item: T): string;
}

const PAGE_BYTES = MAX_MESSAGE_BYTES / 2;

/** A request's page_size, checked against the call's bound; 0 gives the default. */
export function pageSizeOf(pageSize: number, sizes: PageSizes): number {
  const problem = integerProblem("page_size", pageSize, 0, sizes.max);
  if (problem) throw new InvalidArgumentError(problem);
  return pageSize || sizes.default;
}

/** A page_token that did not come from a previous page. */
export function badPageToken(pageToken: string): InvalidArgumentError {
  return new InvalidArgumentError(`page_token ${JSON.stringify(pageToken.slice(0, 80))} is not from a previous page`);
}

/** Where a page of an in-memory list starts: just after the item whose key is the token. */
export function indexAfter<T>(items: readonly T[], pageToken: string, keyOf: (item: T) => string): number {
  if (!pageToken) return 0;
  const index = items.findIndex((item) => keyOf(item) === pageToken);
  if (index < 0) throw badPageToken(pageToken);
  return index + 1;
}

/**
 * One page of `items` from index `start`: up to `size` of them, fewer when their encoded
 * size would pass PAGE_BYTES. `items` may be all there is (a list in memory) or, read from a
 * store, the next size + 1: either way, an item left over means another page follows.
 */
export function fillPage<T, W>(items: readonly T[], start: number, size: number, codec: PageItemCodec<T, W>): Page<W> {
  const page: W[] = [];
  let bytes = 0;
  for (let i = start; i < items.length && page.length < size; i++) {
    const wire = codec.toWire(items[i]!);
    bytes += codec.encodedBytes(wire);
    if (page.length > 0 && bytes > PAGE_BYTES) break;
    page.push(wire);
  }
  const last = start + page.length;
  return { items: page, nextPageToken: last < items.length ? codec.keyOf(items[last - 1]!) : "" };
}

/** The client side: every item of a paged list, asking for page after page until the token comes back empty. */
export async function allPages<W>(fetchPage: (pageToken: string) => Promise<{ items: W[]; nextPageToken: string }>): Promise<W[]> {
  const all: W[] = [];
  let pageToken = "";
  do {
    const page = await fetchPage(pageToken);
    all.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return all;
}
