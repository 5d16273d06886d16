import { batchObjectKey, hourStart } from "../archive/format.js";
import { createObjectEncoder, type ObjectEncoder } from "../archive/object-encoder.js";
import { SCHEMA_VERSION } from "../archive/envelope.js";
import type { Config } from "../config.js";
import { setTimeout as delay } from "node:timers/promises";
import { ArchiveWriteError, describeError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { S3Writer, WriteOptions } from "./s3-writer.js";
import { checkOptions, writeFailure, type ArchiveSink, type SinkItem, type SinkOutcome } from "./sink.js";

/** `p`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export type FlushReason = "count" | "bytes" | "age" | "hour" | "shutdown" | "fifo" | "budget";

/** Hours with an open object at once; a message for one more hour closes the oldest. */
export const MAX_OPEN_HOURS = 4;
/** An object younger than this is not closed just because a newer hour's message arrived (boundary jitter). */
const HOUR_CLOSE_GRACE_MS = 1000;

interface Member {
  messageId: string;
  resolve: (o: SinkOutcome) => void;
}

interface OpenObject {
  hour: number;
  encoder: ObjectEncoder;
  members: Member[];
  firstSent: number;
  lastSent: number;
  openedAt: number;
  timer: NodeJS.Timeout;
  /** Bytes the object holds, charged to the memory budget: lines not yet consumed by the compressor, then its output. */
  charged: number;
  /** Set once the object's bytes went back to the budget: a codec still emitting after a cut finish() charges nothing. */
  settled: boolean;
}

interface Deps {
  config: Config;
  writer: S3Writer;
  metrics: Metrics;
  log: Logger;
  /** Aborted at the shutdown deadline. */
  signal: AbortSignal;
  /** Charges and returns the bytes held by open and flushing objects (the in-flight byte budget). */
  holdBytes: (n: number) => void;
  releaseBytes: (n: number) => void;
  now?: () => number;
}

/**
 * ARCHIVE_FORMAT=ndjson: messages are appended to one open object per SentTimestamp hour and become durable together
 * when that object is written (200, or 412 for an identical object already stored). An object closes on
 * whichever comes first: BATCH_MAX_MESSAGES, BATCH_MAX_BYTES (compressed), BATCH_MAX_SECONDS after it opened, a newer
 * hour, or shutdown. Nothing is deleted here: each message's promise resolves and the receive side deletes.
 */
export class BatchSink implements ArchiveSink {
  readonly format = "ndjson" as const;
  private readonly open = new Map<number, OpenObject>();
  private readonly writing = new Set<Promise<void>>();
  private buffered = 0;
  private bufferedBytes = 0;
  private stopping = false;
  private readonly now: () => number;

  private readonly checks: WriteOptions;

  constructor(private readonly d: Deps) {
    this.now = d.now ?? Date.now;
    this.checks = checkOptions(d.config, d.metrics, d.signal);
  }

  get pending(): number {
    return this.buffered;
  }

  get openBatches(): number {
    return this.open.size;
  }

  /** Resolves once every object closed so far has been written or has failed. */
  async idle(): Promise<void> {
    while (this.writing.size > 0) await Promise.allSettled([...this.writing]);
  }

  submit({ valid, json }: SinkItem): Promise<SinkOutcome> {
    const hour = hourStart(valid.sentTimestampMs);
    let object = this.open.get(hour);
    if (!object) {
      this.closeOlderHours(hour);
      object = this.openObject(hour, valid.sentTimestampMs);
    }
    const b = object;
    const outcome = new Promise<SinkOutcome>((resolve) => b.members.push({ messageId: valid.messageId, resolve }));
    try {
      b.encoder.append(json);
    } catch (err) {
      // Cannot happen for an open object; fail this one message rather than the object.
      b.members.pop()?.resolve({ status: "failed", reason: "internal", sinkFatal: false, aborted: false });
      this.d.log.error({ event: "batch_append_failed", messageId: valid.messageId, err: describeError(err) }, "could not append to batch");
      return outcome;
    }
    b.firstSent = Math.min(b.firstSent, valid.sentTimestampMs);
    b.lastSent = Math.max(b.lastSent, valid.sentTimestampMs);
    this.setBuffered(1);
    if (b.members.length >= this.d.config.batchMaxMessages) this.close(b, "count");
    else if (b.encoder.estimatedBytes >= this.d.config.batchMaxBytes) this.close(b, "bytes");
    return outcome;
  }

  flushAll(reason: "shutdown"): void {
    this.stopping = true;
    for (const b of [...this.open.values()]) this.close(b, reason);
  }

  closeOpen(reason: "fifo" | "budget"): void {
    if (reason === "fifo") {
      for (const b of [...this.open.values()]) this.close(b, reason);
      return;
    }
    // Receiving waits for bytes that only a flush frees: close the object holding the most.
    let largest: OpenObject | undefined;
    for (const b of this.open.values()) if (!largest || b.charged > largest.charged) largest = b;
    if (largest) this.close(largest, reason);
  }

  private openObject(hour: number, sent: number): OpenObject {
    const b: OpenObject = {
      hour,
      members: [],
      firstSent: sent,
      lastSent: sent,
      openedAt: this.now(),
      charged: 0,
      settled: false,
      encoder: createObjectEncoder(this.d.config.archiveCompression, (n) => {
        if (b.settled) return;
        b.charged += n;
        if (n > 0) this.d.holdBytes(n);
        else this.d.releaseBytes(-n);
        this.setBufferedBytes(n);
      }),
      timer: setTimeout(() => this.close(b, "age"), this.d.config.batchMaxSeconds * 1000),
    };
    // A timer must never keep a stopping process alive; shutdown flushes explicitly.
    b.timer.unref();
    this.open.set(hour, b);
    return b;
  }

  private closeOlderHours(hour: number): void {
    const now = this.now();
    for (const b of [...this.open.values()]) {
      if (b.hour < hour && now - b.openedAt >= HOUR_CLOSE_GRACE_MS) this.close(b, "hour");
    }
    // Still too many hours (a backlog spread over many): the oldest goes first.
    while (this.open.size >= MAX_OPEN_HOURS) {
      const oldest = [...this.open.values()].reduce((a, b) => (b.hour < a.hour ? b : a));
      this.close(oldest, "hour");
    }
  }

  private close(b: OpenObject, reason: FlushReason): void {
    if (this.open.get(b.hour) !== b) return;
    this.open.delete(b.hour);
    clearTimeout(b.timer);
    this.d.metrics.batchFlushes.inc({ reason });
    const p = this.write(b, reason).finally(() => this.writing.delete(p));
    this.writing.add(p);
  }

  private async write(b: OpenObject, reason: FlushReason): Promise<void> {
    const { config, metrics, log } = this.d;
    const ids = b.members.map((m) => m.messageId);
    const count = b.members.length;
    let key: string | undefined;
    let outcome: SinkOutcome;
    const started = this.now();
    try {
      // The write budget starts before the codec's last flush, so a stuck compressor cannot hold an object unbounded.
      const budget = AbortSignal.any([this.d.signal, AbortSignal.timeout(config.s3WriteBudgetSeconds * 1000)]);
      const body = await untilAborted(b.encoder.finish(), budget);
      key = batchObjectKey(config.prefix, b.firstSent, ids, b.encoder.extension);
      const metadata = {
        "message-count": String(count),
        "first-sent-timestamp": String(b.firstSent),
        "last-sent-timestamp": String(b.lastSent),
        "schema-version": String(SCHEMA_VERSION),
        ...b.encoder.formatMetadata,
      };
      const res = await this.writeRetryingOnStop(key, body, metadata, count, budget, b.encoder.contentType);
      metrics.archiveDuration.observe((this.now() - started) / 1000);
      if (res.attempts > 1) metrics.s3Retries.inc(res.attempts - 1);
      metrics.batchMessages.observe(count);
      metrics.batchBytes.observe(res.bytes);
      if (res.outcome === "duplicate") {
        metrics.batchesWritten.inc({ outcome: "already_stored" });
        log.info({ event: "batch_already_stored", key, messages: count, reason }, "identical batch already stored (412)");
        outcome = { status: "already_stored", key };
      } else {
        metrics.batchesWritten.inc({ outcome: "written" });
        metrics.archivedBytes.inc(res.bytes);
        log.info({ event: "batch_written", key, messages: count, bytes: res.bytes, reason, ms: this.now() - started }, "batch written");
        outcome = { status: "written", key };
      }
    } catch (err) {
      const failure = writeFailure(err, this.d.signal.aborted, key);
      if (failure.attempts > 1) metrics.s3Retries.inc(failure.attempts - 1);
      outcome = failure.outcome;
      log.warn(
        { event: "batch_failed", key, messages: count, reason: outcome.reason, err: outcome.error },
        outcome.aborted ? "batch write cut by the shutdown deadline; its messages are released" : "batch write failed; its messages are left for redelivery",
      );
    }
    b.settled = true;
    this.d.releaseBytes(b.charged);
    this.setBufferedBytes(-b.charged);
    this.setBuffered(-count);
    for (const m of b.members) m.resolve(outcome);
  }

  /**
   * One write within S3_WRITE_BUDGET; while stopping, a write that failed for good is tried again (with backoff) until
   * it succeeds or the shutdown deadline aborts it, whose outcome then releases the messages: a stop must not leave a
   * an object's messages in flight for the visibility timeout because S3 answered SlowDown for a few seconds.
   */
  private async writeRetryingOnStop(key: string, body: Buffer, metadata: Record<string, string>, count: number, budget: AbortSignal, contentType: string) {
    const { config, writer, log } = this.d;
    for (let round = 0; ; round++) {
      const signal = round === 0 ? budget : AbortSignal.any([this.d.signal, AbortSignal.timeout(config.s3WriteBudgetSeconds * 1000)]);
      try {
        return await writer.write(key, body, metadata, signal, { ...this.checks, contentType });
      } catch (err) {
        if (!this.stopping || this.d.signal.aborted || (err instanceof ArchiveWriteError && err.sinkFatal)) throw err;
        const waitMs = Math.min(2000, 250 * 2 ** round);
        log.warn({ event: "batch_retry_on_shutdown", key, messages: count, round: round + 1, waitMs, err: describeError(err) }, "batch write failed while stopping; retrying within the shutdown budget");
        await delay(waitMs, undefined, { signal: this.d.signal }).catch(() => undefined);
        if (this.d.signal.aborted) throw err;
      }
    }
  }

  private setBuffered(delta: number): void {
    this.buffered += delta;
    this.d.metrics.messagesBuffered.set(this.buffered);
  }

  private setBufferedBytes(delta: number): void {
    this.bufferedBytes += delta;
    this.d.metrics.bufferedBytes.set(this.bufferedBytes);
  }
}
