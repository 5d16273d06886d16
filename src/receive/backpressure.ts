/**
 * Admission control for receives: the in-flight byte budget (MAX_INFLIGHT_BYTES) and, in ndjson mode, the number of
 * buffered messages. A receive loop must be admitted before it calls ReceiveMessage and waits while the budget is
 * spent. Because a receive's size is unknown until it returns, each open poll reserves its worst plausible size
 * (MAX_MESSAGES_PER_POLL x the largest body seen lately, 1 MiB before the first receive), so the bytes held never
 * pass the budget; one poll is always admitted when nothing is held or reserved, so a budget smaller than one poll
 * still moves (then at most one poll's worth is held).
 */
export interface BackpressureOptions {
  maxBytes: number;
  /** Messages held (received, not yet deleted or released); Infinity when only bytes bound them. */
  maxMessages: number;
  messagesPerPoll: number;
  /** Floor of the running per-message size estimate (which starts at the largest body SQS can deliver). */
  minMessageBytes?: number;
  onChange?: (state: { bytes: number; messages: number }) => void;
  /**
   * Called when a poll has to wait for the byte budget while bytes are held and no poll is open: the holder can free
   * some (ndjson closes its largest open batch, which would otherwise hold the budget until its age flush).
   */
  onBytesBlocked?: () => void;
}

/** Largest body SQS can deliver. */
const MAX_BODY_BYTES = 1024 * 1024;

export class Backpressure {
  private bytes = 0;
  private messages = 0;
  private reservedBytes = 0;
  private openPolls = 0;
  private estimate: number;
  private readonly floor: number;
  private waiters: Array<() => void> = [];
  private readonly sizes = new WeakMap<object, number>();

  constructor(private readonly o: BackpressureOptions) {
    this.floor = o.minMessageBytes ?? 64 * 1024;
    // Nothing is known before the first receive: assume the worst, and let small bodies bring the estimate down.
    this.estimate = MAX_BODY_BYTES;
  }

  /** Body bytes charged for a message by hold(); 0 for one never charged. */
  sizeOf(message: object): number {
    return this.sizes.get(message) ?? 0;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  get heldMessages(): number {
    return this.messages;
  }

  get limitBytes(): number {
    return this.o.maxBytes;
  }

  private reservation(): number {
    return this.o.messagesPerPoll * this.estimate;
  }

  private admissible(): boolean {
    if (this.messages + this.openPolls * this.o.messagesPerPoll >= this.o.maxMessages && (this.messages > 0 || this.openPolls > 0)) return false;
    if (this.bytes === 0 && this.openPolls === 0) return true;
    if (this.bytes + this.reservedBytes + this.reservation() <= this.o.maxBytes) return true;
    // Stalled for good only when no poll is open (none will return and change anything) and bytes are held.
    if (this.bytes > 0 && this.openPolls === 0) this.o.onBytesBlocked?.();
    return false;
  }

  /**
   * Waits until a poll may start and reserves room for it. Returns the function to call once the poll has returned
   * (its messages are charged separately with hold()). Resolves undefined when `signal` aborts first.
   */
  async admit(signal?: AbortSignal): Promise<(() => void) | undefined> {
    while (!this.admissible()) {
      if (signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener("abort", wake);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    }
    if (signal?.aborted) return undefined;
    const reserved = this.reservation();
    this.reservedBytes += reserved;
    this.openPolls++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.reservedBytes -= reserved;
      this.openPolls--;
      this.wake();
    };
  }

  /**
   * Charges received messages (their body bytes) against the budget, before the poll's reservation is returned so no
   * other poll is admitted on stale numbers. The sizes are remembered per message for sizeOf().
   */
  hold(messages: ReadonlyArray<{ Body?: string | undefined }>): void {
    const bodyBytes = messages.map((m) => {
      const n = typeof m.Body === "string" ? Buffer.byteLength(m.Body, "utf8") : 0;
      this.sizes.set(m, n);
      return n;
    });
    let sum = 0;
    let largest = 0;
    for (const b of bodyBytes) {
      sum += b;
      if (b > largest) largest = b;
    }
    this.bytes += sum;
    this.messages += bodyBytes.length;
    // The estimate jumps to a large body at once and decays by 2% per smaller message, so a run of 1 MiB bodies is met
    // with room for them and a stream of small ones reaches the floor within a couple of hundred messages.
    const decayed = Math.round(this.estimate * 0.98 ** bodyBytes.length);
    this.estimate = Math.min(MAX_BODY_BYTES, Math.max(this.floor, largest, decayed));
    this.o.onChange?.({ bytes: this.bytes, messages: this.messages });
  }

  /** Returns bytes to the budget (a message deleted or released, or its body handed off in compressed form). */
  releaseBytes(n: number): void {
    if (n <= 0) return;
    this.bytes = Math.max(0, this.bytes - n);
    this.o.onChange?.({ bytes: this.bytes, messages: this.messages });
    this.wake();
  }

  /** Charges bytes held on behalf of messages already counted (an ndjson batch's compressed output). */
  holdBytes(n: number): void {
    if (n <= 0) return;
    this.bytes += n;
    this.o.onChange?.({ bytes: this.bytes, messages: this.messages });
  }

  releaseMessages(n: number): void {
    if (n <= 0) return;
    this.messages = Math.max(0, this.messages - n);
    this.o.onChange?.({ bytes: this.bytes, messages: this.messages });
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
