/**
 * The AWS SDK's retry and timeout settings, in one place: the clients are built from these (aws/aws-clients.ts,
 * replay/clients.ts), and what depends on how long a call can take reads the same values (the S3 write budget in
 * config.ts, the liveness threshold in http/health.ts), so a change here moves both together.
 */

export const SDK_RETRY_MODE = "standard";

/** PutObject attempts per write (SDK standard retry mode); the write budget is derived from it. */
export const S3_MAX_ATTEMPTS = 4;

/** SQS client attempts per call (SDK standard retry mode), long polls included. */
export const SQS_MAX_ATTEMPTS = 3;

/**
 * Slack the SQS client's per-attempt timeout adds to WAIT_TIME_SECONDS (a long poll holds its request open for the
 * whole wait, so the timeout must outlast it).
 */
export const SQS_REQUEST_TIMEOUT_SLACK_SECONDS = 10;

/** Time to open a TCP connection (TLS included), for every client. */
export const CONNECTION_TIMEOUT_MS = 5_000;

/** The SQS client's per-attempt request timeout for a given long-poll wait. */
export function sqsRequestTimeoutMs(waitTimeSeconds: number): number {
  return (waitTimeSeconds + SQS_REQUEST_TIMEOUT_SLACK_SECONDS) * 1000;
}

/** Replay and the other archive commands: per-attempt timeout of each S3 read and SQS send. */
export const CLI_REQUEST_TIMEOUT_MS = 60_000;
