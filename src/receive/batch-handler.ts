import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Config } from "../config.js";
import { buildEnvelope, serializeEnvelope, validateMessage, type ValidMessage } from "../archive/envelope.js";
import { ArchiveWriteError, ArchiverError, classifyAwsError, describeError } from "../errors.js";
import type { HealthState } from "../http/health.js";
import { buildKey } from "../archive/key.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { ReceiveGate } from "./receive-gate.js";
import type { S3Writer } from "../sinks/s3-writer.js";

type Outcome = { ok: true; duplicate: boolean } | { ok: false; reason: string; sinkFatal: boolean };

interface Deps {
  config: Config;
  sqs: SQSClient;
  writer: S3Writer;
  metrics: Metrics;
  health: HealthState;
  gate: ReceiveGate;
  log: Logger;
  now?: () => number;
}

/**
 * Archives one received batch and acknowledges it message by message. The handler deletes what it archived itself
 * (DeleteMessageBatch, per-entry results checked) and returns nothing to sqs-consumer, so deletion is decided here,
 * never by a return value, and a shutdown deadline can cut S3 writes without cutting deletes short.
 */
export class BatchHandler {
  private readonly inFlightById = new Map<string, Promise<Outcome>>();
  private inFlight = 0;
  private active = 0;
  private stopping = false;
  /** Aborted only at the hard shutdown deadline. */
  private readonly work = new AbortController();
  private readonly now: () => number;

  constructor(private readonly d: Deps) {
    this.now = d.now ?? Date.now;
  }

  get activeBatches(): number {
    return this.active;
  }

  beginShutdown(): void {
    this.stopping = true;
  }

  abortWork(): void {
    this.work.abort(new Error("shutdown deadline"));
  }

  readonly handle = async (messages: Message[]): Promise<Message[]> => {
    this.active++;
    try {
      if (this.stopping) {
        // Received by a long poll that was already open when shutdown began: hand back at once, unstarted.
        await this.release(messages, "shutdown");
        return [];
      }
      await this.archiveAndAck(messages);
      return [];
    } catch (err) {
      // Never let an exception reach sqs-consumer: it would change visibility for the whole batch.
      this.d.log.error({ event: "batch_failed", err: describeError(err) }, "unexpected error handling batch");
      return [];
    } finally {
      this.active--;
    }
  };

  private trackInFlight(delta: number): void {
    this.inFlight += delta;
    this.d.metrics.messagesInFlight.set(this.inFlight);
    this.d.health.setInFlight(this.inFlight);
  }

  private async archiveAndAck(messages: Message[]): Promise<void> {
    const { metrics, config } = this.d;
    metrics.messagesReceived.inc(messages.length);
    this.trackInFlight(messages.length);
    // Heartbeat only what is still ours to finish: a message whose write failed drops out at once so it returns after
    // its visibility timeout (and the redrive policy counts it); archived ones are extended until their delete.
    const pending = new Set(messages);
    const heartbeat = setInterval(() => void this.extendVisibility([...pending]), config.heartbeatIntervalSeconds * 1000);
    try {
      const outcomes = await Promise.all(
        messages.map((m) =>
          this.archiveDeduplicated(m).then((o) => {
            if (!o.ok) pending.delete(m);
            return o;
          }),
        ),
      );
      const toDelete: Message[] = [];
      let archived = 0;
      let failed = 0;
      let fatal: string | undefined;
      outcomes.forEach((o, i) => {
        if (o.ok) {
          toDelete.push(messages[i] as Message);
          archived++;
        } else {
          failed++;
          if (o.sinkFatal) fatal = o.reason;
        }
      });
      this.d.gate.batchOutcome(archived, failed, fatal);
      if (toDelete.length > 0) await this.deleteBatch(toDelete);
    } finally {
      clearInterval(heartbeat);
      pending.clear();
      this.trackInFlight(-messages.length);
    }
  }

  private async extendVisibility(messages: Message[]): Promise<void> {
    const { metrics, log, config, sqs } = this.d;
    if (messages.length === 0 || this.work.signal.aborted) return;
    try {
      const out = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: config.queueUrl,
          Entries: messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle as string, VisibilityTimeout: config.visibilityTimeoutSeconds })),
        }),
        { abortSignal: this.work.signal },
      );
      for (const f of out.Failed ?? []) {
        metrics.failures.inc({ stage: "visibility", reason: f.Code ?? "unknown" });
        const m = messages[Number(f.Id?.slice(1))];
        log.warn({ event: "heartbeat_failed", messageId: m?.MessageId, reason: f.Code }, "visibility heartbeat failed for a message");
      }
    } catch (err) {
      const reason = classifyAwsError(err);
      metrics.failures.inc({ stage: "visibility", reason });
      log.warn({ event: "heartbeat_failed", messageIds: messages.map((m) => m.MessageId), reason, err: describeError(err) }, "visibility heartbeat failed");
    }
  }

  /**
   * A second delivery of a message whose first delivery is still being written here (visibility expired during a
   * slow write) waits for that write instead of writing in parallel; it is then deleted with its own, newer handle.
   */
  private archiveDeduplicated(message: Message): Promise<Outcome> {
    const id = message.MessageId;
    const running = id ? this.inFlightById.get(id) : undefined;
    if (running) {
      return running.then((o) => {
        if (o.ok) {
          this.d.metrics.duplicateDeliveries.inc();
          this.d.log.info({ event: "duplicate_delivery", messageId: id, concurrent: true }, "redelivered while archiving");
          return { ok: true, duplicate: true } as Outcome;
        }
        return o;
      });
    }
    const p = this.archiveOne(message);
    if (id) {
      this.inFlightById.set(id, p);
      void p.finally(() => this.inFlightById.delete(id));
    }
    return p;
  }

  private async archiveOne(message: Message): Promise<Outcome> {
    const { config, metrics, log, writer } = this.d;
    let valid: ValidMessage;
    let key: string;
    try {
      valid = validateMessage(message);
      key = buildKey(config.prefix, valid.messageId, valid.sentTimestampMs);
    } catch (err) {
      const code = err instanceof ArchiverError ? err.code : "MESSAGE_INVALID";
      metrics.failures.inc({ stage: "verify", reason: code });
      // Left in flight: it returns after the visibility timeout and the queue's redrive policy moves it to the DLQ.
      log.error({ event: "message_rejected", messageId: message.MessageId, code, err: describeError(err) }, "message not archived: failed verification");
      return { ok: false, reason: code, sinkFatal: false };
    }

    const started = this.now();
    const envelope = buildEnvelope(valid, config.queueUrl, new Date(started));
    const json = serializeEnvelope(envelope);
    const metadata = { "message-id": valid.messageId, "sent-timestamp": String(valid.sentTimestampMs), "schema-version": "1" };
    try {
      const res = await writer.write(key, json, metadata, this.work.signal);
      const done = this.now();
      metrics.archiveDuration.observe((done - started) / 1000);
      if (res.attempts > 1) metrics.s3Retries.inc(res.attempts - 1);
      if (res.outcome === "duplicate") {
        metrics.duplicateDeliveries.inc();
        log.info({ event: "duplicate_delivery", messageId: valid.messageId, key }, "already archived by an earlier delivery");
        return { ok: true, duplicate: true };
      }
      metrics.messagesArchived.inc();
      metrics.archivedBytes.inc(res.bytes);
      metrics.messageAge.observe(Math.max(0, done - valid.sentTimestampMs) / 1000);
      log.debug({ event: "archived", messageId: valid.messageId, key, bytes: res.bytes }, "archived");
      return { ok: true, duplicate: false };
    } catch (err) {
      const reason = err instanceof ArchiveWriteError ? err.code : classifyAwsError(err);
      const sinkFatal = err instanceof ArchiveWriteError ? err.sinkFatal : false;
      if (err instanceof ArchiveWriteError) {
        const attempts = (err.cause as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1;
        if (attempts > 1) metrics.s3Retries.inc(attempts - 1);
      }
      metrics.failures.inc({ stage: "archive", reason });
      log.warn(
        { event: "archive_failed", messageId: valid.messageId, key, reason, err: describeError((err as { cause?: unknown }).cause ?? err) },
        "archive write failed; message left for redelivery",
      );
      return { ok: false, reason, sinkFatal };
    }
  }

  private async deleteBatch(messages: Message[]): Promise<void> {
    const { metrics, log, config, sqs } = this.d;
    let pending = messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle as string, messageId: m.MessageId as string }));
    // One retry for entries that failed for a reason on SQS's side; anything else redelivers and is then detected
    // as a duplicate by the write-once put.
    for (let attempt = 1; attempt <= 2 && pending.length > 0; attempt++) {
      try {
        const out = await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: config.queueUrl, Entries: pending.map(({ Id, ReceiptHandle }) => ({ Id, ReceiptHandle })) }),
          { abortSignal: this.work.signal },
        );
        const ok = out.Successful?.length ?? 0;
        metrics.messagesDeleted.inc(ok);
        this.d.health.addProcessed(ok);
        const failed = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
        const retry: typeof pending = [];
        for (const entry of pending) {
          const f = failed.get(entry.Id);
          if (!f) continue;
          metrics.failures.inc({ stage: "delete", reason: f.Code ?? "unknown" });
          if (!f.SenderFault && attempt === 1) retry.push(entry);
          else log.warn({ event: "delete_failed", messageId: entry.messageId, code: f.Code }, "delete failed; message will redeliver and be detected as a duplicate");
        }
        pending = retry;
      } catch (err) {
        const reason = classifyAwsError(err);
        metrics.failures.inc({ stage: "delete", reason });
        log.warn(
          { event: "delete_failed", messageIds: pending.map((p) => p.messageId), reason, err: describeError(err) },
          "DeleteMessageBatch failed; messages will redeliver and be detected as duplicates",
        );
        if (reason === "aborted") return;
      }
    }
  }

  /** Visibility 0: the messages become receivable again at once, by this pod's successor or another replica. */
  async release(messages: Message[], why: string): Promise<void> {
    const { metrics, log, config, sqs } = this.d;
    if (messages.length === 0) return;
    try {
      const out = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: config.queueUrl,
          Entries: messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle as string, VisibilityTimeout: 0 })),
        }),
        { abortSignal: this.work.signal },
      );
      metrics.messagesReleased.inc(out.Successful?.length ?? 0);
      for (const f of out.Failed ?? []) metrics.failures.inc({ stage: "visibility", reason: f.Code ?? "unknown" });
      log.info({ event: "released", why, messageIds: messages.map((m) => m.MessageId), failed: out.Failed?.length ?? 0 }, "messages released unprocessed");
    } catch (err) {
      metrics.failures.inc({ stage: "visibility", reason: classifyAwsError(err) });
      log.warn({ event: "release_failed", messageIds: messages.map((m) => m.MessageId), err: describeError(err) }, "could not release messages; they return after the visibility timeout");
    }
  }
}
