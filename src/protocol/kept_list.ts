/**
 * A list that keeps its storage. A JavaScript array gives its storage back when it is emptied
 * (`length = 0`) and when pop() shrinks it, so an array emptied after each use allocates again on
 * its next push; the protocols' queues fill and empty on every message. This one only ever grows:
 * emptying it clears the slots (so nothing stays reachable) and keeps them.
 *
 *   const l = new KeptList<number>();  l.push(1); l.push(2);  l.items[0..l.length)  l.clear()
 */
export class KeptList<T> {
  /** Slots 0..length-1 hold the list; the rest are undefined. */
  readonly items: (T | undefined)[] = [];
  length = 0;

  push(item: T): void {
    this.items[this.length++] = item;
  }

  /** The item at `index` (0 <= index < length). */
  at(index: number): T {
    return this.items[index] as T;
  }

  /** Removes and returns the last item (the list is not empty). */
  pop(): T {
    const item = this.items[--this.length] as T;
    this.items[this.length] = undefined;
    return item;
  }

  /** A copy of the list as an array. */
  toArray(): T[] {
    return this.items.slice(0, this.length) as T[];
  }

  clear(): void {
    const items = this.items;
    for (let i = 0; i < this.length; i++) items[i] = undefined;
    this.length = 0;
  }
}
