/**
 * Every reason code the service and the CLI emit: the `reason` label of the metrics and the `reason`/`code` fields
 * of log lines. They are part of the public contract (dashboards, alerts and runbooks match them): add, never rename.
 * The README lists the failure reasons; test/unit/reasons.test.ts holds the list, the README and the code together.
 */

/** What an AWS SDK or network error was, as classifyAwsError (errors.ts) names it. */
export const AWS_REASONS = [
  "throttled",
  "timeout",
  "connection",
  "server_error",
  "client_error",
  "access_denied",
  "credentials",
  "bucket_not_found",
  "wrong_region",
  "queue_not_found",
  "kms",
  "aborted",
  "unknown",
] as const;
export type AwsReason = (typeof AWS_REASONS)[number];

/** A write-once PutObject racing another write of the same key (409 ConditionalRequestConflict), retried. */
export const WRITE_REASONS = ["conditional_conflict"] as const;

/** Why a message itself cannot be archived (the `code` of its typed error): it is left for the redrive policy. */
export const MESSAGE_CODES = ["MD5_MISMATCH", "MESSAGE_MALFORMED", "SENT_TIMESTAMP_INVALID", "MESSAGE_INVALID"] as const;
export type MessageCode = (typeof MESSAGE_CODES)[number];

/** A failure inside the service itself (a batch member left without an outcome). */
export const INTERNAL_REASONS = ["internal"] as const;

/** The `reason` of sqs_archiver_failures_total and of the archive/delete/visibility failure log lines. */
export const FAILURE_REASONS = [...AWS_REASONS, ...WRITE_REASONS, ...MESSAGE_CODES, ...INTERNAL_REASONS] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** The `reason` of sqs_archiver_poll_backoffs_total. */
export const BACKOFF_REASONS = ["sqs_errors", "s3_errors", "poll_interval"] as const;

/** The `reason` of sqs_archiver_batch_flushes_total and batch_written lines. */
export const FLUSH_REASONS = ["count", "bytes", "age", "hour", "shutdown", "fifo", "budget"] as const;

/** Why an archive line or object cannot be read back (replay, and the readers that follow it). */
export const CONTENT_CODES = ["NOT_JSON", "SCHEMA_VERSION", "NOT_ENVELOPE", "MD5_MISMATCH", "READ_FAILED"] as const;
export type ContentCode = (typeof CONTENT_CODES)[number];

/** The `code` of errors that end a command before it starts: printed with the message, mapped to an exit code. */
export const COMMAND_CODES = ["CONFIG_INVALID", "USAGE", "PORT_IN_USE", "SAME_QUEUE"] as const;
export type CommandCode = (typeof COMMAND_CODES)[number];

/** Why a replay stopped early (the `stopped` field of replay_summary). */
export const REPLAY_STOP_REASONS = ["interrupted", "refused", "fatal", "target"] as const;

/** The problems `sqs-archiver verify` reports (its JSON and HTML reports, log lines and docs/verify.md). */
export const VERIFY_PROBLEM_CODES = [
  "CORRUPT_OBJECT",
  "MALFORMED_LINE",
  "UNKNOWN_SCHEMA",
  "MD5_MISMATCH",
  "WRONG_HOUR",
  "KEY_ID_MISMATCH",
  "BATCH_HASH_MISMATCH",
  "COUNT_MISMATCH",
  "CONFLICT",
  "MISSING_FROM_COMPACTED",
  "EXTRA_IN_COMPACTED",
  "DUPLICATE_IN_COMPACTED",
] as const;

/** Why `sqs-archiver compact` leaves a source object unconsumed, besides the content codes (an envelope filed under an hour its SentTimestamp is not in). */
export const COMPACT_SOURCE_CODES = ["MISFILED"] as const;

/** Every code above: what may appear as a `reason` or `code` emitted by src/ (SQS batch entry codes aside). */
export const ALL_CODES: ReadonlySet<string> = new Set<string>([...FAILURE_REASONS, ...BACKOFF_REASONS, ...FLUSH_REASONS, ...CONTENT_CODES, ...COMMAND_CODES, ...REPLAY_STOP_REASONS, ...VERIFY_PROBLEM_CODES, ...COMPACT_SOURCE_CODES]);

export type ArchiverCode = FailureReason | ContentCode | CommandCode;
