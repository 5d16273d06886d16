import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { FLUSH_REASONS } from "./reasons.js";

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
  readonly writeOutcomeChecks: Counter<"result">;
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

/** Metric constructors bound to one registry and the name prefix. */
function factory(registry: Registry) {
  const registers = [registry];
  return {
    counter: <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name: `${METRIC_PREFIX}${name}`, help, labelNames, registers }),
    gauge: <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name: `${METRIC_PREFIX}${name}`, help, labelNames, registers }),
    histogram: (name: string, help: string, buckets: number[]) => new Histogram({ name: `${METRIC_PREFIX}${name}`, help, buckets, registers }),
    /** A gauge read on each scrape. */
    computed: (name: string, help: string, read: () => number) =>
      new Gauge({
        name: `${METRIC_PREFIX}${name}`,
        help,
        registers,
        collect() {
          this.set(read());
        },
      }),
  };
}

/** `oldestUnarchivedAgeSeconds` is read on each scrape (src/receive/freshness.ts). */
export function createMetrics(version: string, nodeVersion: string, oldestUnarchivedAgeSeconds: () => number = () => 0): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { counter, gauge, histogram, computed } = factory(registry);
  const m: Metrics = {
    registry,
    messagesReceived: counter("messages_received_total", "Messages received from SQS"),
    messagesArchived: counter("messages_archived_total", "Messages newly written to S3 (excludes duplicate deliveries)"),
    messagesDeleted: counter("messages_deleted_total", "Messages deleted from SQS after archiving"),
    messagesReleased: counter("messages_released_total", "Messages handed back to the queue unprocessed (visibility 0), e.g. on shutdown"),
    duplicateDeliveries: counter("duplicate_deliveries_total", "Deliveries whose archive already existed (If-None-Match 412); deleted without rewriting"),
    failures: counter("failures_total", "Failures by stage (receive, verify, archive, delete, visibility) and stable reason code", ["stage", "reason"] as const),
    messagesInFlight: gauge("messages_in_flight", "Messages received and not yet deleted or released"),
    archiveDuration: histogram("archive_duration_seconds", "Time to write one archive to S3 (all attempts)", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    messageAge: histogram(
      "message_age_seconds",
      "Age of a message when archived: SentTimestamp to archive written",
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 345600],
    ),
    archivedBytes: counter("archived_bytes_total", "Bytes of archive objects written to S3"),
    receiveRequests: counter("receive_requests_total", "ReceiveMessage calls by result (messages, empty, error)", ["result"] as const),
    lastPollTimestamp: gauge("last_poll_timestamp_seconds", "Unix time of the last successful ReceiveMessage"),
    s3Retries: counter("s3_retries_total", "PutObject attempts beyond the first (SDK retries)"),
    pollBackoffs: counter("poll_backoffs_total", "Pauses before a receive because SQS or S3 was failing", ["reason"] as const),
    ready: gauge("ready", "1 when the readiness probe passes"),
    redeliveries: counter("redeliveries_total", "Messages received with ApproximateReceiveCount > 1 (in ndjson mode each may be a second line in another object)"),
    archivedNotDeleted: counter(
      "archived_not_deleted_total",
      "Messages durably archived whose delete failed: they redeliver (a 412 in message mode, a possible duplicate line in ndjson mode)",
    ),
    writeOutcomeChecks: counter(
      "write_outcome_checks_total",
      "HeadObject checks after a PutObject whose outcome was unknown (timeouts, resets, 500, 409, shutdown abort), by result: stored (durable, acknowledged), absent (failed), unknown (the check failed too: the messages redeliver and may become a second line)",
      ["result"] as const,
    ),
    inflightBytes: gauge("inflight_bytes", "Message body bytes held in memory (received, not yet deleted or released)"),
    inflightBytesLimit: gauge("inflight_bytes_limit", "MAX_INFLIGHT_BYTES: receives wait while inflight_bytes is at this budget"),
    batchesWritten: counter("batches_written_total", "ndjson objects made durable, by outcome (written, already_stored: 412 for an identical batch)", ["outcome"] as const),
    batchMessages: histogram("batch_messages", "Messages per ndjson object", [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 100000]),
    batchBytes: histogram("batch_bytes", "Compressed bytes per ndjson object", [1024, 16384, 131072, 1048576, 4194304, 16777216, 67108864, 268435456]),
    batchFlushes: counter("batch_flushes_total", `ndjson batches closed, by reason (${FLUSH_REASONS.join(", ")})`, ["reason"] as const),
    messagesBuffered: gauge("messages_buffered", "Messages in open or flushing ndjson batches"),
    bufferedBytes: gauge("buffered_bytes", "Bytes held by open or flushing ndjson batches: lines waiting for the compressor plus compressed output"),
    buildInfo: gauge("build_info", "Build information; always 1", ["version", "node_version"] as const),
    oldestUnarchivedAge: computed(
      "oldest_unarchived_message_age_seconds",
      "Age of the oldest message received and not yet durable in S3, from its first receive here (archive freshness)",
      oldestUnarchivedAgeSeconds,
    ),
  };
  m.buildInfo.set({ version, node_version: nodeVersion }, 1);
  for (const result of ["messages", "empty", "error"]) m.receiveRequests.inc({ result }, 0);
  for (const result of ["stored", "absent", "unknown"]) m.writeOutcomeChecks.inc({ result }, 0);
  for (const outcome of ["written", "already_stored"]) m.batchesWritten.inc({ outcome }, 0);
  for (const reason of FLUSH_REASONS) m.batchFlushes.inc({ reason }, 0);
  return m;
}
