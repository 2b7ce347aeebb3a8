/**
 * The central waiting room of one pool: consumer requests wait here until a
 * worker pulls them (DESIGN.md, "Shape"; issue 8, priorities and fair
 * shares).
 *
 * Order of service: the highest priority class first; within a class, the
 * fairness keys that have waiting entries take turns (round robin), so one
 * tenant's burst of 1,000 requests delays another tenant's single request by
 * at most one job per other waiting key; within a key, first in first out.
 *
 * Cost: every operation is O(1) except a few rare paths that are O(log n)
 * (an entry whose deadline is earlier than a later-pushed one) or
 * O(number of priority classes) (the first entry of a new class). The queue
 * keeps one timer at most, never one per entry:
 *
 * - Deadlines live in a doubly linked list ordered by deadline. With the
 *   usual single timeout per pool, each push appends to its tail (a clock
 *   does not go backwards) and each removal unlinks in O(1). An entry whose
 *   deadline is earlier than the tail's (a different timeout, or a
 *   re-dispatch with the time it had left) goes to a binary min-heap instead.
 *   The earliest deadline is the smaller of the list head and the heap top.
 * - The timer is armed lazily: it is re-armed only when a push brings an
 *   earlier deadline, and not when the earliest entry leaves (as it does on
 *   every shift). A timer that fires with nothing due re-arms for the new
 *   earliest deadline, so at most one spurious wake-up happens per timeout
 *   period, and a busy queue does no timer work per request. When the queue
 *   becomes empty the timer stays until it fires (at most one timeout
 *   period), then none is armed until the next push; {@linkcode PoolQueue.drain}
 *   clears it at once, so call it at shutdown.
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "../clock.ts";

/** How one value enters a {@linkcode PoolQueue}. */
export interface EnqueueOptions {
  /**
   * The priority class: higher classes are dequeued first. Any finite
   * number; the router keeps it within [-100, 100].
   *
   * @default {0}
   */
  priority?: number;
  /**
   * Within a class, the keys that have waiting entries are served in turn
   * (round robin). Entries with the same key are served first in, first out.
   *
   * @default {""} (one key shared by every entry)
   */
  fairnessKey?: string;
  /**
   * Milliseconds from now after which the entry times out and is handed to
   * {@linkcode PoolQueueOptions.onTimeout}. `Infinity` means never; negative
   * values count as 0 (due at the next timer run). A re-dispatched request
   * should pass what it has left: `ticket.deadline - clock.now()`.
   */
  timeoutMs: number;
  /**
   * Put the entry at the very front of its class and key, and make its key
   * the next one served in its class: for a request that was shifted and must
   * go back (a worker declined it, or failed before any response byte). Such
   * a push ignores {@linkcode PoolQueue.maxLength}: the request had its place
   * already.
   *
   * @default {false}
   */
  front?: boolean;
}

/** The handle of one waiting entry, for {@linkcode PoolQueue.remove}. */
export interface QueueTicket {
  /** The clock reading at the push. */
  readonly enqueuedAt: number;
  /** The clock reading at which the entry times out (`Infinity`: never). */
  readonly deadline: number;
  /** The priority class the entry waits in. */
  readonly priority: number;
  /** The fairness key the entry waits under. */
  readonly fairnessKey: string;
}

/** Options of {@linkcode PoolQueue}. */
export interface PoolQueueOptions<T> {
  /**
   * Pushes beyond this many waiting entries are refused (`push` returns
   * `null`), except those with `front` set. `Infinity` means no limit.
   */
  maxLength: number;
  /**
   * The source of time for deadlines and the timer.
   *
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Called synchronously, from the queue's single timer, with each entry
   * whose deadline has passed, in deadline order (ties in push order), once
   * per entry. The entry has already left the queue when this runs; the
   * callback may push, shift or remove.
   */
  onTimeout: (value: T, ticket: QueueTicket) => void;
}

/** A waiting entry; also the ticket handed to the caller. */
class Entry<T> implements QueueTicket {
  readonly enqueuedAt: number;
  readonly deadline: number;
  readonly priority: number;
  readonly fairnessKey: string;
  readonly value: T;
  /** Push order, to break deadline ties. */
  readonly seq: number;
  /** The queue this entry waits in; null once it has left. */
  owner: PoolQueue<T> | null;
  lane: Lane<T> | null = null;
  prev: Entry<T> | null = null;
  next: Entry<T> | null = null;
  /** Neighbours in the deadline list (when `inList`). */
  dPrev: Entry<T> | null = null;
  dNext: Entry<T> | null = null;
  inList = false;
  /** Position in the deadline heap, or -1. */
  heapIndex = -1;

  constructor(
    owner: PoolQueue<T>,
    value: T,
    now: number,
    deadline: number,
    priority: number,
    fairnessKey: string,
    seq: number,
  ) {
    this.owner = owner;
    this.value = value;
    this.enqueuedAt = now;
    this.deadline = deadline;
    this.priority = priority;
    this.fairnessKey = fairnessKey;
    this.seq = seq;
  }
}

/** The FIFO of one fairness key within one class; a node of its class's ring. */
class Lane<T> {
  readonly key: string;
  readonly band: Band<T>;
  head: Entry<T> | null = null;
  tail: Entry<T> | null = null;
  size = 0;
  /** Neighbours in the ring of lanes that have waiting entries. */
  prev: Lane<T>;
  next: Lane<T>;

  constructor(key: string, band: Band<T>) {
    this.key = key;
    this.band = band;
    this.prev = this;
    this.next = this;
  }
}

/** One priority class: a ring of lanes and the lane to serve next. */
class Band<T> {
  readonly priority: number;
  readonly lanes = new Map<string, Lane<T>>();
  /** The lane served next; null only while the band is empty. */
  cursor: Lane<T> | null = null;
  size = 0;

  constructor(priority: number) {
    this.priority = priority;
  }
}

function earlier<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.deadline < b.deadline ||
    (a.deadline === b.deadline && a.seq < b.seq);
}

/**
 * The queue of one pool: priority classes, round robin over fairness keys
 * within a class, FIFO within a key, per-entry deadlines served by a single
 * timer.
 *
 * @typeParam T the waiting value (the hub's pending request)
 *
 * @example Serve a tenant's single request before another tenant's burst ends
 * ```ts
 * import { PoolQueue } from "./pool_queue.ts";
 * import { ManualClock } from "../clock.ts";
 *
 * const clock = new ManualClock();
 * const timedOut: string[] = [];
 * const queue = new PoolQueue<string>({
 *   maxLength: 1000,
 *   clock,
 *   onTimeout: (value) => timedOut.push(value),
 * });
 * for (let i = 0; i < 3; i++) {
 *   queue.push(`a${i}`, { fairnessKey: "tenant-a", timeoutMs: 30_000 });
 * }
 * queue.push("b0", { fairnessKey: "tenant-b", timeoutMs: 30_000 });
 * queue.push("urgent", { priority: 10, timeoutMs: 30_000 });
 *
 * const order: string[] = [];
 * for (let next = queue.shift(); next; next = queue.shift()) {
 *   order.push(next.value);
 * }
 * if (order.join() !== "urgent,a0,b0,a1,a2") throw new Error(order.join());
 *
 * queue.push("late", { timeoutMs: 5_000 });
 * clock.advance(5_000);
 * if (timedOut.join() !== "late") throw new Error(timedOut.join());
 * queue.drain(); // at shutdown: stops the timer
 * if (clock.pending !== 0) throw new Error("timer left behind");
 * ```
 */
export class PoolQueue<T> {
  #maxLength: number;
  readonly #clock: Clock;
  readonly #onTimeout: (value: T, ticket: QueueTicket) => void;
  #length = 0;
  #seq = 0;

  /** Non-empty classes, highest priority first. */
  #bands: Band<T>[] = [];
  #bandOf = new Map<number, Band<T>>();

  /** Deadline list (ascending) and the heap for out-of-order deadlines. */
  #dHead: Entry<T> | null = null;
  #dTail: Entry<T> | null = null;
  #heap: Entry<T>[] = [];

  #timer: TimerHandle | null = null;
  /** The deadline the timer is armed for; never later than the earliest. */
  #armedAt = Infinity;
  #firing = false;

  /**
   * Makes an empty queue.
   *
   * @param options the limit, the clock and the timeout callback
   * @throws {RangeError} when `maxLength` is negative or not a number
   */
  constructor(options: PoolQueueOptions<T>) {
    this.#maxLength = checkMaxLength(options.maxLength);
    this.#clock = options.clock ?? systemClock;
    this.#onTimeout = options.onTimeout;
  }

  /**
   * The number of waiting entries.
   *
   * @returns the count
   */
  get length(): number {
    return this.#length;
  }

  /**
   * The limit on waiting entries.
   *
   * @returns the current limit
   */
  get maxLength(): number {
    return this.#maxLength;
  }

  /**
   * Changes the limit at once (live reload). Entries already waiting stay,
   * even beyond a lowered limit; only new pushes are refused.
   *
   * @param value the new limit, `>= 0` (`Infinity`: no limit)
   */
  set maxLength(value: number) {
    this.#maxLength = checkMaxLength(value);
  }

  /**
   * Adds a value.
   *
   * @param value what waits (the pending request)
   * @param options class, key, timeout and front placement
   * @returns the ticket, or `null` when the queue holds `maxLength` entries
   *   already and `front` is not set
   * @throws {RangeError} when `priority` or `timeoutMs` is not a number
   */
  push(value: T, options: EnqueueOptions): QueueTicket | null {
    const front = options.front === true;
    if (!front && this.#length >= this.#maxLength) return null;
    const priority = options.priority ?? 0;
    if (!Number.isFinite(priority)) {
      throw new RangeError(
        `Cannot enqueue: priority must be a finite number, current value is ${priority}`,
      );
    }
    const timeoutMs = options.timeoutMs;
    if (Number.isNaN(timeoutMs)) {
      throw new RangeError("Cannot enqueue: timeoutMs is NaN");
    }
    const key = options.fairnessKey ?? "";
    const now = this.#clock.now();
    const deadline = now + Math.max(0, timeoutMs);
    const entry = new Entry(
      this,
      value,
      now,
      deadline,
      priority,
      key,
      this.#seq++,
    );

    // The class: the top one in the common case.
    let band = this.#bands.length > 0 && this.#bands[0].priority === priority
      ? this.#bands[0]
      : this.#bandOf.get(priority);
    if (band === undefined) band = this.#addBand(priority);

    // The lane: the cursor's in the common case (one key).
    let lane = band.cursor !== null && band.cursor.key === key
      ? band.cursor
      : band.lanes.get(key);
    if (lane === undefined) {
      lane = new Lane(key, band);
      band.lanes.set(key, lane);
      const cursor = band.cursor;
      if (cursor === null) {
        band.cursor = lane;
      } else {
        // A new key joins at the end of the current round, so a key that
        // empties and comes back often cannot jump ahead of the others.
        lane.next = cursor;
        lane.prev = cursor.prev;
        cursor.prev.next = lane;
        cursor.prev = lane;
      }
    }

    entry.lane = lane;
    if (front) {
      entry.next = lane.head;
      if (lane.head !== null) lane.head.prev = entry;
      else lane.tail = entry;
      lane.head = entry;
      band.cursor = lane;
    } else {
      entry.prev = lane.tail;
      if (lane.tail !== null) lane.tail.next = entry;
      else lane.head = entry;
      lane.tail = entry;
    }
    lane.size++;
    band.size++;
    this.#length++;

    if (deadline !== Infinity) {
      const tail = this.#dTail;
      if (tail === null || deadline >= tail.deadline) {
        entry.inList = true;
        entry.dPrev = tail;
        if (tail !== null) tail.dNext = entry;
        else this.#dHead = entry;
        this.#dTail = entry;
      } else {
        this.#heapPush(entry);
      }
      if (!this.#firing && deadline < this.#armedAt) this.#arm(deadline);
    }
    return entry;
  }

  /**
   * Removes and returns the next entry: from the highest priority class, the
   * next fairness key in turn, the oldest entry of that key.
   *
   * @returns the value and its ticket, or `null` when the queue is empty
   */
  shift(): { value: T; ticket: QueueTicket } | null {
    if (this.#length === 0) return null;
    const band = this.#bands[0];
    const lane = band.cursor!;
    const entry = lane.head!;
    this.#take(entry);
    // The key had its turn; the next key in the ring goes next. (When the
    // lane emptied, #take has moved the cursor on already.)
    if (lane.size > 0) band.cursor = lane.next;
    return { value: entry.value, ticket: entry };
  }

  /**
   * Removes a waiting entry, for a consumer that went away. O(1), or
   * O(log n) for an entry whose deadline sits in the heap.
   *
   * @param ticket the ticket from {@linkcode PoolQueue.push}
   * @returns `true` when the entry was waiting here and is now gone; `false`
   *   when it had left already (shifted, timed out, drained or removed) or
   *   belongs to another queue
   */
  remove(ticket: QueueTicket): boolean {
    if (!(ticket instanceof Entry) || ticket.owner !== this) return false;
    this.#take(ticket as Entry<T>);
    return true;
  }

  /**
   * Stops the timer and removes every waiting entry (drain or shutdown). No
   * `onTimeout` call happens for them. Call it when the pool goes away, even
   * when the queue looks empty: a timer may still be pending (with
   * {@linkcode systemClock} it would keep the process alive until it fires).
   *
   * @returns the values, in the order `shift` would have returned them
   */
  drain(): T[] {
    this.#disarm();
    const values: T[] = [];
    for (let next = this.shift(); next !== null; next = this.shift()) {
      values.push(next.value);
    }
    return values;
  }

  /** Unlinks an entry from every structure; leaves `owner` null. */
  #take(entry: Entry<T>): void {
    entry.owner = null;
    const lane = entry.lane!;
    const band = lane.band;
    entry.lane = null;

    if (entry.prev !== null) entry.prev.next = entry.next;
    else lane.head = entry.next;
    if (entry.next !== null) entry.next.prev = entry.prev;
    else lane.tail = entry.prev;
    entry.prev = entry.next = null;
    lane.size--;
    band.size--;
    this.#length--;

    if (lane.size === 0) {
      band.lanes.delete(lane.key);
      if (lane.next === lane) {
        band.cursor = null;
      } else {
        if (band.cursor === lane) band.cursor = lane.next;
        lane.prev.next = lane.next;
        lane.next.prev = lane.prev;
      }
      lane.prev = lane.next = lane;
    }
    if (band.size === 0) this.#removeBand(band);

    if (entry.inList) {
      entry.inList = false;
      if (entry.dPrev !== null) entry.dPrev.dNext = entry.dNext;
      else this.#dHead = entry.dNext;
      if (entry.dNext !== null) entry.dNext.dPrev = entry.dPrev;
      else this.#dTail = entry.dPrev;
      entry.dPrev = entry.dNext = null;
    } else if (entry.heapIndex >= 0) {
      this.#heapRemove(entry);
    }

    // The timer is left as it is, even when the queue is now empty (see the
    // module notes): it never fires late, and a queue that goes between
    // empty and one entry with each request would otherwise pay a
    // clearTimeout and a setTimeout per request.
  }

  #addBand(priority: number): Band<T> {
    const band = new Band<T>(priority);
    this.#bandOf.set(priority, band);
    const bands = this.#bands;
    let i = 0;
    while (i < bands.length && bands[i].priority > priority) i++;
    bands.splice(i, 0, band);
    return band;
  }

  #removeBand(band: Band<T>): void {
    this.#bandOf.delete(band.priority);
    const bands = this.#bands;
    if (bands[0] === band) bands.shift();
    else bands.splice(bands.indexOf(band), 1);
  }

  #earliest(): Entry<T> | null {
    const head = this.#dHead;
    const top = this.#heap.length > 0 ? this.#heap[0] : null;
    if (head === null) return top;
    if (top === null) return head;
    return earlier(top, head) ? top : head;
  }

  #arm(deadline: number): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    const delay = Math.max(0, deadline - this.#clock.now());
    this.#armedAt = deadline;
    this.#timer = this.#clock.setTimeout(this.#fire, delay);
  }

  #disarm(): void {
    if (this.#timer !== null) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#armedAt = Infinity;
  }

  #fire = (): void => {
    this.#timer = null;
    this.#armedAt = Infinity;
    this.#firing = true;
    try {
      const now = this.#clock.now();
      for (;;) {
        const entry = this.#earliest();
        if (entry === null || entry.deadline > now) break;
        this.#take(entry);
        this.#onTimeout(entry.value, entry);
      }
    } finally {
      this.#firing = false;
      const entry = this.#earliest();
      if (entry !== null) this.#arm(entry.deadline);
    }
  };

  #heapPush(entry: Entry<T>): void {
    const heap = this.#heap;
    entry.heapIndex = heap.length;
    heap.push(entry);
    this.#siftUp(entry.heapIndex);
  }

  #heapRemove(entry: Entry<T>): void {
    const heap = this.#heap;
    const i = entry.heapIndex;
    entry.heapIndex = -1;
    const last = heap.pop()!;
    if (last === entry) return;
    heap[i] = last;
    last.heapIndex = i;
    this.#siftUp(i);
    this.#siftDown(last.heapIndex);
  }

  #siftUp(i: number): void {
    const heap = this.#heap;
    const entry = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(entry, heap[parent])) break;
      heap[i] = heap[parent];
      heap[i].heapIndex = i;
      i = parent;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const entry = heap[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && earlier(heap[right], heap[left])
        ? right
        : left;
      if (!earlier(heap[child], entry)) break;
      heap[i] = heap[child];
      heap[i].heapIndex = i;
      i = child;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }
}

function checkMaxLength(value: number): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new RangeError(
      `Cannot set maxLength: it must be a number >= 0, current value is ${value}`,
    );
  }
  return value;
}
