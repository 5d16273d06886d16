import { setMaxListeners } from "node:events";
import { buildKey } from "../archive/key.js";
import type { Config } from "../config.js";
import { ArchiverError, describeError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { S3Writer, WriteOptions } from "./s3-writer.js";
import { checkOptions, writeFailure, type ArchiveSink, type SinkItem, type SinkOutcome } from "./sink.js";

interface Deps {
  config: Config;
  writer: S3Writer;
  metrics: Metrics;
  log: Logger;
  /** Aborted at the shutdown deadline. */
  signal: AbortSignal;
  now?: () => number;
}

/** ARCHIVE_FORMAT=message: one write-once object per message, durable when its PutObject returns 200 or 412. */
export class MessageSink implements ArchiveSink {
  readonly format = "message" as const;
  private inFlight = 0;
  private shared: { signal: AbortSignal; until: number } | undefined;
  private readonly now: () => number;
  private readonly checks: WriteOptions;

  constructor(private readonly d: Deps) {
    this.now = d.now ?? Date.now;
    this.checks = checkOptions(d.config, d.metrics, d.signal);
  }

  get pending(): number {
    return this.inFlight;
  }

  /**
   * The write's bound: the shutdown deadline or S3_WRITE_BUDGET (S3_MAX_ATTEMPTS x S3_REQUEST_TIMEOUT_SECONDS). One
   * signal is shared by the writes that start within the same 1% of the budget (at most 1 s): a timer and a composite
   * signal per PutObject cost ~20 µs of CPU each and kept ~budget x rate of them alive (120,000 at 1,000 msg/s). A
   * write therefore gets between 99% and 100% of its budget, never more.
   */
  private writeSignal(): AbortSignal {
    const t = performance.now();
    if (this.shared && t < this.shared.until) return this.shared.signal;
    const budgetMs = this.d.config.s3WriteBudgetSeconds * 1000;
    const signal = AbortSignal.any([this.d.signal, AbortSignal.timeout(budgetMs)]);
    // Every write in flight adds an abort listener (the SDK removes it when the request ends).
    setMaxListeners(0, signal);
    this.shared = { signal, until: t + Math.min(1000, budgetMs / 100) };
    return signal;
  }

  flushAll(): void {
    // Nothing is buffered: every message is written as soon as it arrives.
  }

  closeOpen(): void {
    // Nothing is buffered.
  }

  async submit({ valid, json }: SinkItem): Promise<SinkOutcome> {
    const { config, metrics, writer } = this.d;
    let key: string;
    try {
      key = buildKey(config.prefix, valid.messageId, valid.sentTimestampMs);
    } catch (err) {
      const code = err instanceof ArchiverError ? err.code : "MESSAGE_INVALID";
      return { status: "rejected", code, detail: describeError(err).message };
    }
    const metadata = { "message-id": valid.messageId, "sent-timestamp": String(valid.sentTimestampMs), "schema-version": "1" };
    const started = this.now();
    this.inFlight++;
    try {
      const res = await writer.write(key, json, metadata, this.writeSignal(), this.checks);
      metrics.archiveDuration.observe((this.now() - started) / 1000);
      if (res.attempts > 1) metrics.s3Retries.inc(res.attempts - 1);
      if (res.outcome === "duplicate") return { status: "already_stored", key };
      metrics.archivedBytes.inc(res.bytes);
      return { status: "written", key };
    } catch (err) {
      const { outcome, attempts } = writeFailure(err, this.d.signal.aborted, key);
      if (attempts > 1) metrics.s3Retries.inc(attempts - 1);
      return outcome;
    } finally {
      this.inFlight--;
    }
  }
}
