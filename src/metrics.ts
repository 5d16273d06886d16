import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const METRIC_PREFIX = "sqs_archiver_";

/**
 * Every metric the service exports, on its own registry (never prom-client's global one, so tests and embedded
 * use stay isolated). The chart's alerts and dashboard are tested against these names.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly messagesReceived: Counter;
  readonly messagesArchived: Counter;
  readonly messagesDeleted: Counter;
  readonly messagesReleased: Counter;
  readonly duplicateDeliveries: Counter;
  readonly failures: Counter<"stage" | "reason">;
  readonly messagesInFlight: Gauge;
  readonly archiveDuration: Histogram;
  readonly messageAge: Histogram;
  readonly archivedBytes: Counter;
  readonly receiveRequests: Counter<"result">;
  readonly lastPollTimestamp: Gauge;
  readonly s3Retries: Counter;
  readonly pollBackoffs: Counter<"reason">;
  readonly ready: Gauge;
  readonly redeliveries: Counter;
  readonly archivedNotDeleted: Counter;
  readonly inflightBytes: Gauge;
  readonly inflightBytesLimit: Gauge;
  readonly batchesWritten: Counter<"outcome">;
  readonly batchMessages: Histogram;
  readonly batchBytes: Histogram;
  readonly batchFlushes: Counter<"reason">;
  readonly messagesBuffered: Gauge;
  readonly bufferedBytes: Gauge;
  readonly buildInfo: Gauge<"version" | "node_version">;
  readonly oldestUnarchivedAge: Gauge;
}

/** `oldestUnarchivedAgeSeconds` is read on each scrape (src/receive/freshness.ts). */
export function createMetrics(version: string, nodeVersion: string, oldestUnarchivedAgeSeconds: () => number = () => 0): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const p = METRIC_PREFIX;
  const registers = [registry];

  const m: Metrics = {
    registry,
    messagesReceived: new Counter({ name: `${p}messages_received_total`, help: "Messages received from SQS", registers }),
    messagesArchived: new Counter({
      name: `${p}messages_archived_total`,
      help: "Messages newly written to S3 (excludes duplicate deliveries)",
      registers,
    }),
    messagesDeleted: new Counter({ name: `${p}messages_deleted_total`, help: "Messages deleted from SQS after archiving", registers }),
    messagesReleased: new Counter({
      name: `${p}messages_released_total`,
      help: "Messages handed back to the queue unprocessed (visibility 0), e.g. on shutdown",
      registers,
    }),
    duplicateDeliveries: new Counter({
      name: `${p}duplicate_deliveries_total`,
      help: "Deliveries whose archive already existed (If-None-Match 412); deleted without rewriting",
      registers,
    }),
    failures: new Counter({
      name: `${p}failures_total`,
      help: "Failures by stage (receive, verify, archive, delete, visibility) and stable reason code",
      labelNames: ["stage", "reason"] as const,
      registers,
    }),
    messagesInFlight: new Gauge({ name: `${p}messages_in_flight`, help: "Messages received and not yet deleted or released", registers }),
    archiveDuration: new Histogram({
      name: `${p}archive_duration_seconds`,
      help: "Time to write one archive to S3 (all attempts)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    messageAge: new Histogram({
      name: `${p}message_age_seconds`,
      help: "Age of a message when archived: SentTimestamp to archive written",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 345600],
      registers,
    }),
    archivedBytes: new Counter({ name: `${p}archived_bytes_total`, help: "Bytes of archive objects written to S3", registers }),
    receiveRequests: new Counter({
      name: `${p}receive_requests_total`,
      help: "ReceiveMessage calls by result (messages, empty, error)",
      labelNames: ["result"] as const,
      registers,
    }),
    lastPollTimestamp: new Gauge({
      name: `${p}last_poll_timestamp_seconds`,
      help: "Unix time of the last successful ReceiveMessage",
      registers,
    }),
    s3Retries: new Counter({ name: `${p}s3_retries_total`, help: "PutObject attempts beyond the first (SDK retries)", registers }),
    pollBackoffs: new Counter({
      name: `${p}poll_backoffs_total`,
      help: "Pauses before a receive because SQS or S3 was failing",
      labelNames: ["reason"] as const,
      registers,
    }),
    ready: new Gauge({ name: `${p}ready`, help: "1 when the readiness probe passes", registers }),
    redeliveries: new Counter({
      name: `${p}redeliveries_total`,
      help: "Messages received with ApproximateReceiveCount > 1 (in ndjson mode each may be a second line in another object)",
      registers,
    }),
    archivedNotDeleted: new Counter({
      name: `${p}archived_not_deleted_total`,
      help: "Messages durably archived whose delete failed: they redeliver (a 412 in message mode, a possible duplicate line in ndjson mode)",
      registers,
    }),
    inflightBytes: new Gauge({ name: `${p}inflight_bytes`, help: "Message body bytes held in memory (received, not yet deleted or released)", registers }),
    inflightBytesLimit: new Gauge({ name: `${p}inflight_bytes_limit`, help: "MAX_INFLIGHT_BYTES: receives wait while inflight_bytes is at this budget", registers }),
    batchesWritten: new Counter({
      name: `${p}batches_written_total`,
      help: "ndjson objects made durable, by outcome (written, already_stored: 412 for an identical batch)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    batchMessages: new Histogram({
      name: `${p}batch_messages`,
      help: "Messages per ndjson object",
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 100000],
      registers,
    }),
    batchBytes: new Histogram({
      name: `${p}batch_bytes`,
      help: "Compressed bytes per ndjson object",
      buckets: [1024, 16384, 131072, 1048576, 4194304, 16777216, 67108864, 268435456],
      registers,
    }),
    batchFlushes: new Counter({
      name: `${p}batch_flushes_total`,
      help: "ndjson batches closed, by reason (count, bytes, age, hour, shutdown)",
      labelNames: ["reason"] as const,
      registers,
    }),
    messagesBuffered: new Gauge({ name: `${p}messages_buffered`, help: "Messages in open or flushing ndjson batches", registers }),
    bufferedBytes: new Gauge({ name: `${p}buffered_bytes`, help: "Compressed bytes in open or flushing ndjson batches", registers }),
    oldestUnarchivedAge: new Gauge({
      name: `${p}oldest_unarchived_message_age_seconds`,
      help: "Age of the oldest message received and not yet durable in S3, from its first receive here (archive freshness)",
      registers,
      collect() {
        this.set(oldestUnarchivedAgeSeconds());
      },
    }),
    buildInfo: new Gauge({
      name: `${p}build_info`,
      help: "Build information; always 1",
      labelNames: ["version", "node_version"] as const,
      registers,
    }),
  };
  m.buildInfo.set({ version, node_version: nodeVersion }, 1);
  for (const result of ["messages", "empty", "error"]) m.receiveRequests.inc({ result }, 0);
  for (const outcome of ["written", "already_stored"]) m.batchesWritten.inc({ outcome }, 0);
  for (const reason of ["count", "bytes", "age", "hour", "shutdown"]) m.batchFlushes.inc({ reason }, 0);
  return m;
}
