import { setTimeout as sleep } from "node:timers/promises";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { classifyAwsError, describeError, isRetryableReason } from "../errors.js";
import { MAX_BATCH_BYTES, type ReplayEntry } from "./message.js";
import type { RateLimiter } from "./rate-limiter.js";

/**
 * Sends replay entries with SendMessageBatch: at most `concurrency` requests in flight, each at most 10 entries and
 * 1 MiB, at the limiter's rate. Standard targets batch in arrival order. FIFO targets keep one request in flight per
 * message group and send each group's messages in the order given (SequenceNumber order, sorted by the caller).
 * Per-entry failures SQS marks as its own fault or throttling are retried with backoff; the rest are reported.
 * S3 is never touched here. SQS command used: SendMessageBatch.
 */

export interface Outgoing {
  messageId: string;
  key: string;
  line: number;
  re: ReplayEntry;
}

export interface SenderEvents<T extends Outgoing> {
  sent(items: T[]): void;
  failed(item: T, reason: string, detail: string): void;
  /** A failure that makes every further send fail (queue missing, access denied): the replay stops. */
  fatal(reason: string, detail: string): void;
}

const MAX_ATTEMPTS = 6;
const FATAL = new Set(["queue_not_found", "access_denied", "credentials", "kms"]);
const RETRY_ENTRY_CODES = /throttl|RequestThrottled|ServiceUnavailable|InternalError|KmsThrottled/i;

export class Sender<T extends Outgoing> {
  private queue: T[] = [];
  private head = 0;
  private groups = new Map<string, T[]>();
  private groupOrder: string[] = [];
  private busy = new Set<string>();
  private inFlight = 0;
  private stopped = false;
  private flushing = false;
  private linger: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private readonly maxBatch: number;
  readonly highWater: number;
  requests = 0;
  retries = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly fifo: boolean,
    private readonly concurrency: number,
    private readonly limiter: RateLimiter,
    private readonly events: SenderEvents<T>,
  ) {
    this.maxBatch = Math.min(10, limiter.maxBatch);
    this.highWater = Math.max(100, concurrency * 10 * 4);
  }

  get pending(): number {
    if (!this.fifo) return this.queue.length - this.head;
    let n = 0;
    for (const g of this.groups.values()) n += g.length;
    return n;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Standard targets: adds one entry; resolves once there is room (backpressure for the readers). */
  async add(item: T): Promise<void> {
    this.queue.push(item);
    this.pump();
    while (!this.stopped && this.pending >= this.highWater) await this.wait();
  }

  /** FIFO targets: entries already in group order; each group's entries are appended in the order given. */
  addOrdered(items: readonly T[]): void {
    for (const it of items) {
      const g = it.re.group ?? it.messageId;
      let list = this.groups.get(g);
      if (!list) {
        list = [];
        this.groups.set(g, list);
        this.groupOrder.push(g);
      }
      list.push(it);
    }
    this.pump();
  }

  /** No more entries for now: send partial batches instead of waiting for full ones. */
  flush(): void {
    this.flushing = true;
    this.pump();
  }

  /** Stops starting new requests (Ctrl-C, fatal error); entries not yet sent stay unsent. */
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  /** Resolves when nothing is pending (or the sender is stopped) and no request is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight > 0 || (!this.stopped && this.pending > 0)) await this.wait();
  }

  private wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  private pump(): void {
    if (this.stopped) return;
    while (this.inFlight < this.concurrency) {
      const batch = this.fifo ? this.takeFifo() : this.takeStandard();
      if (!batch) break;
      this.inFlight++;
      const groups = this.fifo ? [...new Set(batch.map((b) => b.re.group ?? b.messageId))] : [];
      void this.send(batch).finally(() => {
        this.inFlight--;
        for (const g of groups) this.busy.delete(g);
        this.wake();
        this.pump();
      });
    }
  }

  private takeStandard(): T[] | undefined {
    const avail = this.queue.length - this.head;
    if (avail === 0) return undefined;
    if (avail < this.maxBatch && !this.flushing) {
      // A partial batch waits while requests are in flight (their completion pumps again, by when readers have
      // usually filled it), else for a moment: readers deliver messages in bursts.
      if (this.inFlight > 0) return undefined;
      this.linger ??= setTimeout(() => {
        this.linger = undefined;
        const f = this.flushing;
        this.flushing = true;
        this.pump();
        this.flushing = f;
      }, 5);
      return undefined;
    }
    const batch: T[] = [];
    let bytes = 0;
    while (this.head < this.queue.length && batch.length < this.maxBatch) {
      const it = this.queue[this.head] as T;
      if (batch.length > 0 && bytes + it.re.size > MAX_BATCH_BYTES) break;
      batch.push(it);
      bytes += it.re.size;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.wake();
    return batch;
  }

  private takeFifo(): T[] | undefined {
    const batch: T[] = [];
    let bytes = 0;
    const taken = new Set<string>();
    for (let i = 0; i < this.groupOrder.length && batch.length < this.maxBatch; i++) {
      const g = this.groupOrder[i] as string;
      if (this.busy.has(g) || taken.has(g)) continue;
      const list = this.groups.get(g) as T[];
      let took = 0;
      while (list.length > took && batch.length < this.maxBatch) {
        const it = list[took] as T;
        if (batch.length > 0 && bytes + it.re.size > MAX_BATCH_BYTES) break;
        batch.push(it);
        bytes += it.re.size;
        took++;
      }
      if (took === 0) break;
      list.splice(0, took);
      taken.add(g);
      this.busy.add(g);
    }
    if (taken.size > 0) {
      this.groupOrder = this.groupOrder.filter((g) => {
        if ((this.groups.get(g)?.length ?? 0) > 0) return true;
        this.groups.delete(g);
        return false;
      });
      // Rotate so every group gets its turn.
      const first = this.groupOrder.findIndex((g) => !taken.has(g));
      if (first > 0) this.groupOrder = [...this.groupOrder.slice(first), ...this.groupOrder.slice(0, first)];
    }
    return batch.length ? batch : undefined;
  }

  private async send(batch: T[]): Promise<void> {
    await this.limiter.take(batch.length);
    let todo = batch;
    for (let attempt = 1; todo.length > 0; attempt++) {
      let out;
      try {
        this.requests++;
        out = await this.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: todo.map((t, i) => ({ Id: `m${i}`, ...t.re.entry })) }),
        );
      } catch (err) {
        const reason = classifyAwsError(err);
        const detail = describeError(err);
        if (FATAL.has(reason)) {
          this.events.fatal(reason, `${detail.code}: ${detail.message}`);
          for (const t of todo) this.events.failed(t, reason, `${detail.code}: ${detail.message}`);
          return;
        }
        if (isRetryableReason(reason) && reason !== "aborted" && attempt < MAX_ATTEMPTS) {
          this.retries++;
          await backoff(attempt);
          continue;
        }
        if (todo.length > 1 && reason === "client_error") {
          // One entry the queue refuses (a body it will not take) must not fail the rest: send each alone.
          for (const t of todo) await this.send1(t);
          return;
        }
        for (const t of todo) this.events.failed(t, reason, `${detail.code}: ${detail.message}`);
        return;
      }
      const byId = (id: string | undefined) => todo[Number(String(id).slice(1))];
      const ok: T[] = [];
      for (const s of out.Successful ?? []) {
        const t = byId(s.Id);
        if (t) ok.push(t);
      }
      if (ok.length) this.events.sent(ok);
      const again: T[] = [];
      for (const f of out.Failed ?? []) {
        const t = byId(f.Id);
        if (!t) continue;
        const retryable = !f.SenderFault || RETRY_ENTRY_CODES.test(f.Code ?? "");
        if (retryable && attempt < MAX_ATTEMPTS) again.push(t);
        else this.events.failed(t, f.Code ?? "unknown", f.Message ?? "");
      }
      todo = again;
      if (todo.length) {
        this.retries++;
        await backoff(attempt);
      }
    }
  }

  private async send1(t: T): Promise<void> {
    try {
      this.requests++;
      const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: [{ Id: "m0", ...t.re.entry }] }));
      if (out.Successful?.length) this.events.sent([t]);
      else this.events.failed(t, out.Failed?.[0]?.Code ?? "unknown", out.Failed?.[0]?.Message ?? "");
    } catch (err) {
      const d = describeError(err);
      this.events.failed(t, classifyAwsError(err), `${d.code}: ${d.message}`);
    }
  }
}

function backoff(attempt: number): Promise<unknown> {
  const base = Math.min(5_000, 200 * 2 ** (attempt - 1));
  return sleep(base / 2 + Math.random() * (base / 2));
}
