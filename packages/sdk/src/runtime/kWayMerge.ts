/**
 * Merges sorted sources into one sorted sequence. Equal items come out in
 * source order, so merging runs written in input order keeps a stable sort
 * stable and a group's values in fetch order.
 */
export function* kWayMerge<T>(sources: Iterator<T>[], compare: (a: T, b: T) => number): Generator<T> {
  interface Head {
    item: T;
    source: number;
  }
  const heap: Head[] = [];
  const before = (a: Head, b: Head): boolean => {
    const order = compare(a.item, b.item);
    return order < 0 || (order === 0 && a.source < b.source);
  };
  const siftDown = (index: number): void => {
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === index) return;
      [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
      index = smallest;
    }
  };
  sources.forEach((source, index) => {
    const next = source.next();
    if (!next.done) heap.push({ item: next.value, source: index });
  });
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);
  while (heap.length > 0) {
    const top = heap[0]!;
    yield top.item;
    const next = sources[top.source]!.next();
    if (next.done) {
      const last = heap.pop()!;
      if (heap.length === 0) break;
      heap[0] = last;
    } else {
      heap[0] = { item: next.value, source: top.source };
    }
    siftDown(0);
  }
}
