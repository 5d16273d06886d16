import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { buildEnvelope, serializeEnvelope, validateMessage } from "../archive/envelope.js";
import { SQS_DELETE_TRIES, SQS_HANDLER_CALL_TIMEOUT_MS, type Config } from "../config.js";
import { ArchiverError, classifyAwsError, describeError } from "../errors.js";
import type { HealthState } from "../http/health.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { isDurable, type ArchiveSink, type SinkOutcome } from "../sinks/sink.js";
import type { Backpressure } from "./backpressure.js";
import type { FreshnessTracker } from "./freshness.js";
import { Limiter } from "./limiter.js";
import type { ReceiveGate } from "./receive-gate.js";

interface Deps {
  config: Config;
  sqs: SQSClient;
  sink: ArchiveSink;
  metrics: Metrics;
  health: HealthState;
  gate: ReceiveGate;
  backpressure: Backpressure;
  log: Logger;
  now?: () => number;
  /** Told of every message received and of its outcome (the oldest-unarchived-age gauge). */
  freshness?: FreshnessTracker;
}

/** What the handler keeps of a received message once its body is handed to the sink: enough to delete or release it. */
interface Held {
  messageId: string;
  receiptHandle: string;
  bodyBytes: number;
  outcome: Promise<SinkOutcome>;
}

function rejected(err: unknown): SinkOutcome {
  const code = err instanceof ArchiverError ? err.code : "MESSAGE_INVALID";
  return { status: "rejected", code, detail: describeError(err).message };
}

/**
 * Why messages are handed back: `shutdown`, unstarted (a long poll returned after the stop began); `shutdown_deadline`,
 * the write was cut by the deadline; `failed_while_stopping`, the write failed for good during the stop.
 */
type ReleaseReason = "shutdown" | "shutdown_deadline" | "failed_while_stopping";

/** Concurrent DeleteMessageBatch / ChangeMessageVisibilityBatch calls made by acknowledgements. */
const SQS_ACK_CALLS = 16;

/**
 * The one acknowledgement path for every archive format. Each received batch is verified message by message, handed
 * to the sink, and then acknowledged message by message as the sink reports durability: durable messages are deleted
 * (DeleteMessageBatch, per-entry results checked), messages whose write was cut by the shutdown deadline are released
 * (visibility 0), failed ones are left in flight to redeliver (the redrive policy counts them). Nothing here throws
 * back to sqs-consumer, and deletion is decided here, never by a return value.
 *
 * In message mode the receive loop waits for its batch's acknowledgements (CONCURRENCY x MAX_MESSAGES_PER_POLL
 * messages in flight, as before). In ndjson mode it does not: it hands the messages over and polls again, and the
 * Backpressure admission stops receives while the buffered messages or bytes are at their limits.
 */
export class BatchHandler {
  private readonly inFlightById = new Map<string, Promise<SinkOutcome>>();
  private readonly acks = new Set<Promise<void>>();
  private readonly ackLimiter = new Limiter(SQS_ACK_CALLS);
  private inFlight = 0;
  private entering = 0;
  /** Messages released (visibility 0) and release calls that failed, for the stop's summary. */
  private readonly released = { unstarted: 0, notDurable: 0 };
  private releaseFailed = 0;
  private stopping = false;
  /** After the shutdown deadline, SQS calls are bounded by what is left until this instant. */
  private finalDeadline = Number.POSITIVE_INFINITY;
  /** Aborted at the shutdown deadline: heartbeats (the sinks hold their own signal for writes). */
  private readonly work = new AbortController();
  private readonly now: () => number;
  private readonly waitForAcks: boolean;
  private readonly fifo: boolean;

  constructor(private readonly d: Deps) {
    this.now = d.now ?? Date.now;
    this.waitForAcks = d.sink.format === "message";
    this.fifo = d.config.queueUrl.endsWith(".fifo");
  }

  /** An empty receive: on a FIFO queue, the open batches hold every group still waiting (see handle()). */
  receivedNothing(): void {
    if (this.fifo && !this.stopping) this.d.sink.closeOpen("fifo");
  }

  /** Received batches not yet fully acknowledged (and handler calls still starting). */
  get activeBatches(): number {
    return this.acks.size + this.entering;
  }

  get messagesInFlight(): number {
    return this.inFlight;
  }

  /**
   * What the stop handed back: `unstarted` messages came from a long poll that returned after shutdown began;
   * `notDurable` ones were received and their archive did not become durable in time (they will be archived again by
   * whoever receives them next); `releaseFailed` could not be released and stay invisible until their timeout.
   */
  get releaseSummary(): { released: { unstarted: number; notDurable: number }; releaseFailed: number } {
    return { released: { ...this.released }, releaseFailed: this.releaseFailed };
  }

  beginShutdown(): void {
    this.stopping = true;
  }

  /** The shutdown deadline: heartbeats stop, and SQS calls from now on must end by `finalDeadline`. */
  abortWork(finalDeadline: number): void {
    this.finalDeadline = finalDeadline;
    this.work.abort(new Error("shutdown deadline"));
  }

  /** Resolves when every acknowledgement started so far has finished. */
  async idle(): Promise<void> {
    while (this.acks.size > 0) await Promise.allSettled([...this.acks]);
  }

  readonly handle = async (messages: Message[]): Promise<Message[]> => {
    this.entering++;
    try {
      if (this.stopping) {
        // Received by a long poll that was already open when shutdown began: hand back at once, unstarted.
        await this.releaseRaw(messages, "shutdown");
        return [];
      }
      const ack = this.accept(messages);
      if (this.waitForAcks) await ack;
      // FIFO: SQS delivers nothing more of a group while its messages are in flight, so a receive that came back short
      // means every group with messages waiting is locked by an open batch: close it now rather than at its age.
      else if (this.fifo && messages.length < this.d.config.maxMessagesPerPoll) this.d.sink.closeOpen("fifo");
      return [];
    } catch (err) {
      // Never let an exception reach sqs-consumer: it would change visibility for the whole batch.
      this.d.log.error({ event: "batch_failed", err: describeError(err) }, "unexpected error handling batch");
      return [];
    } finally {
      this.entering--;
    }
  };

  private trackInFlight(delta: number): void {
    this.inFlight += delta;
    this.d.metrics.messagesInFlight.set(this.inFlight);
    this.d.health.setInFlight(this.inFlight);
  }

  /** Synchronous hand-over of one received batch; returns its acknowledgement, which never rejects. */
  private accept(messages: Message[]): Promise<void> {
    const { metrics, backpressure } = this.d;
    metrics.messagesReceived.inc(messages.length);
    this.trackInFlight(messages.length);
    const held: Held[] = messages.map((m) => {
      if (Number(m.Attributes?.ApproximateReceiveCount ?? "1") > 1) metrics.redeliveries.inc();
      this.d.freshness?.received(m.MessageId);
      // Charged by the gate when the receive returned.
      const bodyBytes = backpressure.sizeOf(m);
      const outcome = this.archiveDeduplicated(m);
      return { messageId: m.MessageId ?? "(none)", receiptHandle: m.ReceiptHandle ?? "", bodyBytes, outcome };
    });
    if (!this.waitForAcks) {
      // The body now lives compressed inside the batch, which charges its own bytes.
      backpressure.releaseBytes(held.reduce((a, h) => a + h.bodyBytes, 0));
    }
    const ack = this.acknowledge(held).catch((err: unknown) => {
      this.d.log.error({ event: "ack_failed", err: describeError(err) }, "unexpected error acknowledging batch");
    });
    this.acks.add(ack);
    void ack.finally(() => this.acks.delete(ack));
    return ack;
  }

  private async acknowledge(held: Held[]): Promise<void> {
    const { config, gate, backpressure } = this.d;
    // Heartbeat only what is still ours to finish: a message whose write failed drops out at once so it returns after
    // its visibility timeout (and the redrive policy counts it); durable ones are extended until their delete.
    const pending = new Set(held);
    const heartbeat = setInterval(() => void this.extendVisibility([...pending]), config.heartbeatIntervalSeconds * 1000);
    try {
      const outcomes = await Promise.all(
        held.map((h) =>
          h.outcome.then((o) => {
            this.d.freshness?.settled(h.messageId, o);
            if (!isDurable(o)) pending.delete(h);
            return o;
          }),
        ),
      );
      const toDelete: Held[] = [];
      const toRelease: Held[] = [];
      const toReleaseFailed: Held[] = [];
      let sinkFailed = 0;
      let fatal: string | undefined;
      let fatalDetail: string | undefined;
      outcomes.forEach((o, i) => {
        const h = held[i] as Held;
        if (isDurable(o)) toDelete.push(h);
        else if (o.status === "failed") {
          // While stopping, a failed message is released too: left in flight it would stay invisible for the
          // visibility timeout after a stop that has nobody left to retry it.
          if (o.aborted) toRelease.push(h);
          else if (this.stopping) toReleaseFailed.push(h);
          else sinkFailed++;
          if (o.sinkFatal) {
            fatal = o.reason;
            fatalDetail = o.detail;
          }
        }
        // Rejected messages are the message's fault, not the sink's: left in flight, no backoff.
      });
      gate.batchOutcome(toDelete.length, sinkFailed, fatal, fatalDetail);
      await Promise.all([this.deleteAll(toDelete), this.release(toRelease, "shutdown_deadline"), this.release(toReleaseFailed, "failed_while_stopping")]);
    } finally {
      clearInterval(heartbeat);
      pending.clear();
      this.trackInFlight(-held.length);
      if (this.waitForAcks) backpressure.releaseBytes(held.reduce((a, h) => a + h.bodyBytes, 0));
      backpressure.releaseMessages(held.length);
    }
  }

  /** Bound for one SQS call made here: the fixed per-call budget, or what is left before the final deadline. */
  private callSignal(): AbortSignal {
    const left = this.finalDeadline - this.now();
    return AbortSignal.timeout(Math.max(250, Math.min(SQS_HANDLER_CALL_TIMEOUT_MS, left)));
  }

  private async extendVisibility(held: Held[]): Promise<void> {
    const { metrics, log, config, sqs } = this.d;
    if (held.length === 0 || this.work.signal.aborted) return;
    try {
      const out = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: config.queueUrl,
          Entries: held.map((h, i) => ({ Id: `m${i}`, ReceiptHandle: h.receiptHandle, VisibilityTimeout: config.visibilityTimeoutSeconds })),
        }),
        { abortSignal: AbortSignal.any([this.work.signal, this.callSignal()]) },
      );
      for (const f of out.Failed ?? []) {
        metrics.failures.inc({ stage: "visibility", reason: f.Code ?? "unknown" });
        const h = held[Number(f.Id?.slice(1))];
        log.warn({ event: "heartbeat_failed", messageId: h?.messageId, reason: f.Code }, "visibility heartbeat failed for a message");
      }
    } catch (err) {
      const reason = classifyAwsError(err);
      metrics.failures.inc({ stage: "visibility", reason });
      log.warn({ event: "heartbeat_failed", messageIds: held.map((h) => h.messageId), reason, err: describeError(err) }, "visibility heartbeat failed");
    }
  }

  /**
   * A second delivery of a message whose first delivery is still being archived here (visibility expired during a
   * slow write or a long-open batch) waits for that archive instead of writing in parallel; it is then deleted with
   * its own, newer handle.
   */
  private archiveDeduplicated(message: Message): Promise<SinkOutcome> {
    const id = message.MessageId;
    const running = id ? this.inFlightById.get(id) : undefined;
    if (running) {
      return running.then((o) => {
        if (isDurable(o)) {
          this.d.metrics.duplicateDeliveries.inc();
          this.d.log.info({ event: "duplicate_delivery", messageId: id, concurrent: true }, "redelivered while archiving");
          return { status: "already_stored", key: o.key } as SinkOutcome;
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

  /**
   * Verifies, builds the envelope and submits; every failure becomes an outcome, so nothing escapes the batch. Only the
   * message's id and SentTimestamp are kept while waiting for the outcome: an ndjson batch can hold a message for
   * BATCH_MAX_SECONDS after its body was handed over (and released from the byte budget), so the body, the parsed
   * message and the envelope JSON must not stay reachable from this wait.
   */
  private archiveOne(message: Message): Promise<SinkOutcome> {
    return this.record(this.submitOne(message), message.MessageId, message.Attributes?.SentTimestamp);
  }

  /** Synchronous part of archiveOne: nothing it allocates outlives the hand-over to the sink. */
  private submitOne(message: Message): Promise<SinkOutcome> {
    try {
      const valid = validateMessage(message);
      const json = serializeEnvelope(buildEnvelope(valid, this.d.config.queueUrl, new Date(this.now())));
      return this.d.sink.submit({ valid, json });
    } catch (err) {
      return Promise.resolve(rejected(err));
    }
  }

  private async record(submitted: Promise<SinkOutcome>, messageId: string | undefined, sentTimestamp: string | undefined): Promise<SinkOutcome> {
    const { metrics, log } = this.d;
    let outcome: SinkOutcome;
    try {
      outcome = await submitted;
    } catch (err) {
      outcome = rejected(err);
    }
    switch (outcome.status) {
      case "written": {
        metrics.messagesArchived.inc();
        const sent = Number(sentTimestamp);
        metrics.messageAge.observe(Math.max(0, this.now() - sent) / 1000);
        log.debug({ event: "archived", messageId, key: outcome.key }, "archived");
        break;
      }
      case "already_stored":
        metrics.duplicateDeliveries.inc();
        log.info({ event: "duplicate_delivery", messageId, key: outcome.key }, "already archived by an earlier delivery");
        break;
      case "failed":
        metrics.failures.inc({ stage: "archive", reason: outcome.reason });
        log.warn(
          { event: "archive_failed", messageId, key: outcome.key, reason: outcome.reason, err: outcome.error },
          outcome.aborted ? "archive write cut by the shutdown deadline; message released" : "archive write failed; message left for redelivery",
        );
        break;
      case "rejected":
        metrics.failures.inc({ stage: "verify", reason: outcome.code });
        // Left in flight: it returns after the visibility timeout and the queue's redrive policy moves it to the DLQ.
        log.error({ event: "message_rejected", messageId, code: outcome.code, err: { code: outcome.code, message: outcome.detail } }, "message not archived: failed verification");
        break;
    }
    return outcome;
  }

  /** DeleteMessageBatch in chunks of 10, in parallel (bounded), never cut by the shutdown deadline's abort. */
  private async deleteAll(held: Held[]): Promise<void> {
    const chunks: Held[][] = [];
    for (let i = 0; i < held.length; i += 10) chunks.push(held.slice(i, i + 10));
    await Promise.all(chunks.map((c) => this.ackLimiter.run(() => this.deleteChunk(c))));
  }

  private async deleteChunk(held: Held[]): Promise<void> {
    const { metrics, log, config, sqs } = this.d;
    let pending = held.map((h, i) => ({ Id: `m${i}`, h }));
    // One retry for entries that failed for a reason on SQS's side; anything else redelivers and is then detected
    // as a duplicate (a 412 in message mode; a counted second line in ndjson mode).
    for (let attempt = 1; attempt <= SQS_DELETE_TRIES && pending.length > 0; attempt++) {
      const last = attempt === SQS_DELETE_TRIES;
      try {
        const out = await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: config.queueUrl, Entries: pending.map(({ Id, h }) => ({ Id, ReceiptHandle: h.receiptHandle })) }),
          { abortSignal: this.callSignal() },
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
          if (!f.SenderFault && !last) retry.push(entry);
          else {
            metrics.archivedNotDeleted.inc();
            log.warn({ event: "delete_failed", messageId: entry.h.messageId, code: f.Code }, "delete failed; the archived message will redeliver");
          }
        }
        pending = retry;
      } catch (err) {
        const reason = classifyAwsError(err);
        metrics.failures.inc({ stage: "delete", reason });
        log.warn(
          { event: "delete_failed", messageIds: pending.map((p) => p.h.messageId), reason, attempt, err: describeError(err) },
          "DeleteMessageBatch failed",
        );
        if (last || this.now() >= this.finalDeadline) {
          metrics.archivedNotDeleted.inc(pending.length);
          return;
        }
      }
    }
  }

  /** Visibility 0: the messages become receivable again at once, by this pod's successor or another replica. */
  private async release(held: Array<Pick<Held, "messageId" | "receiptHandle">>, why: ReleaseReason): Promise<void> {
    const chunks: Array<typeof held> = [];
    for (let i = 0; i < held.length; i += 10) chunks.push(held.slice(i, i + 10));
    await Promise.all(chunks.map((c) => this.ackLimiter.run(() => this.releaseChunk(c, why))));
  }

  private async releaseRaw(messages: Message[], why: "shutdown"): Promise<void> {
    try {
      await this.release(
        messages.map((m) => ({ messageId: m.MessageId ?? "(none)", receiptHandle: m.ReceiptHandle ?? "" })),
        why,
      );
    } finally {
      this.d.backpressure.releaseBytes(messages.reduce((a, m) => a + this.d.backpressure.sizeOf(m), 0));
      this.d.backpressure.releaseMessages(messages.length);
    }
  }

  private async releaseChunk(held: Array<Pick<Held, "messageId" | "receiptHandle">>, why: ReleaseReason): Promise<void> {
    const { metrics, log, config, sqs } = this.d;
    try {
      const out = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: config.queueUrl,
          Entries: held.map((h, i) => ({ Id: `m${i}`, ReceiptHandle: h.receiptHandle, VisibilityTimeout: 0 })),
        }),
        { abortSignal: this.callSignal() },
      );
      const ok = out.Successful?.length ?? 0;
      metrics.messagesReleased.inc(ok);
      if (why === "shutdown") this.released.unstarted += ok;
      else this.released.notDurable += ok;
      this.releaseFailed += out.Failed?.length ?? 0;
      for (const f of out.Failed ?? []) metrics.failures.inc({ stage: "visibility", reason: f.Code ?? "unknown" });
      log.info({ event: "released", why, messageIds: held.map((h) => h.messageId), failed: out.Failed?.length ?? 0 }, "messages released unprocessed");
    } catch (err) {
      metrics.failures.inc({ stage: "visibility", reason: classifyAwsError(err) });
      this.releaseFailed += held.length;
      log.warn({ event: "release_failed", messageIds: held.map((h) => h.messageId), err: describeError(err) }, "could not release messages; they return after the visibility timeout");
    }
  }
}
