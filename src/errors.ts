import type { ArchiverCode, AwsReason } from "./reasons.js";

/**
 * The base of every typed error in src/ (test/unit/reasons.test.ts checks there is no other). The `code`, one of the
 * catalogue in reasons.ts, is what appears in log lines (`err.code`) and as the `reason` label of
 * `sqs_archiver_failures_total`, so codes are part of the public contract: add, never rename.
 */
export class ArchiverError extends Error {
  readonly code: ArchiverCode;
  override readonly cause?: unknown;

  constructor(code: ArchiverCode, message: string, cause?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (cause !== undefined) this.cause = cause;
  }
}

/** One problem per variable; main prints one line each and exits non-zero before any AWS call. */
export class ConfigError extends ArchiverError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super("CONFIG_INVALID", `invalid configuration: ${problems.join("; ")}`);
    this.problems = problems;
  }
}

/** The body does not hash to the MD5OfBody SQS computed: archiving it would store corrupt data as good. */
export class ChecksumMismatchError extends ArchiverError {
  constructor(messageId: string, expected: string, actual: string) {
    super("MD5_MISMATCH", `message ${messageId}: MD5 of body ${actual} does not match MD5OfBody ${expected}`);
  }
}

/** A message SQS returned without the fields every archive needs (MessageId, Body, ReceiptHandle). */
export class MalformedMessageError extends ArchiverError {
  constructor(detail: string, code: "MESSAGE_MALFORMED" | "SENT_TIMESTAMP_INVALID" = "MESSAGE_MALFORMED") {
    super(code, `malformed SQS message: ${detail}`);
  }
}

/** PutObject failed; `reason` is the classified failure (see classifyAwsError). */
export class ArchiveWriteError extends ArchiverError {
  readonly retryable: boolean;
  /** True when the failure is about the bucket as a whole (missing, denied), not this one object. */
  readonly sinkFatal: boolean;
  /** What an operator should know beyond the reason (e.g. the bucket's real region); shown on /ready. */
  readonly detail: string | undefined;

  constructor(reason: AwsReason | "conditional_conflict", message: string, cause: unknown, retryable: boolean, sinkFatal: boolean, detail?: string) {
    super(reason, message, cause);
    this.retryable = retryable;
    this.sinkFatal = sinkFatal;
    this.detail = detail;
  }
}

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  /** The raw HTTP response (non-enumerable on SDK v3 service exceptions). */
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
  /** S3 AuthorizationHeaderMalformed: the region the bucket expects. */
  Region?: string;
  /** S3 PermanentRedirect: the endpoint to use, e.g. bucket.s3.eu-west-1.amazonaws.com. */
  Endpoint?: string;
}

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "SlowDown",
  "OverLimit",
  "KmsThrottlingException",
  // KMS throttling as SQS (SSE-KMS queues) and S3 (SSE-KMS writes) report it: a rate limit, not a key problem.
  "KmsThrottled",
  "KMSThrottlingException",
  "KMS.ThrottlingException",
]);

/**
 * S3 answers a request sent to the wrong region with 301 PermanentRedirect (an endpoint of another region),
 * 400 AuthorizationHeaderMalformed (signed for the wrong region) or IllegalLocationConstraintException; HEAD requests
 * carry no body, so only the status and the `x-amz-bucket-region` header tell. The SDK does not follow these
 * (followRegionRedirects is off): every write to the bucket fails the same way.
 */
const WRONG_REGION = new Set(["PermanentRedirect", "IllegalLocationConstraintException", "AuthorizationHeaderMalformed"]);

const CONNECTION = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
]);

const CREDENTIALS = new Set([
  "CredentialsProviderError",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidIdentityToken",
]);

/**
 * Maps any SDK or network error to a short, stable reason used as a metric label and log code.
 * AWS error names come in several forms (`AWS.SimpleQueueService.NonExistentQueue`, `QueueDoesNotExist`), so
 * matching is by suffix as well as exact name.
 */
export function classifyAwsError(err: unknown): AwsReason {
  const e = (err ?? {}) as AwsLikeError;
  const name = e.name ?? "";
  const code = e.code ?? "";
  const status = e.$metadata?.httpStatusCode;

  if (name === "AbortError" || code === "ABORT_ERR") return "aborted";
  if (isWrongRegionError(e)) return "wrong_region";
  // @smithy/node-http-handler renames ECONNRESET/EPIPE errors to name "TimeoutError"; the code still tells the truth.
  if (code !== "ETIMEDOUT" && CONNECTION.has(code)) return "connection";
  if (name === "TimeoutError" || name === "RequestTimeout" || code === "ETIMEDOUT" || name === "RequestTimeoutException") {
    return "timeout";
  }
  if (
    e.$retryable?.throttling ||
    THROTTLING.has(name) ||
    THROTTLING.has(code) ||
    name.endsWith(".OverLimit") ||
    // Any KMS throttling spelling (KmsThrottled, KMS.ThrottlingException, ...) before the catch-all "kms" below.
    (/^kms/i.test(name) && /throttl/i.test(name))
  ) {
    return "throttled";
  }
  if (name.endsWith("NonExistentQueue") || name === "QueueDoesNotExist") return "queue_not_found";
  if (name === "NoSuchBucket") return "bucket_not_found";
  if (CREDENTIALS.has(name) || name === "CredentialsError") return "credentials";
  if (name === "AccessDenied" || name === "AccessDeniedException" || name.endsWith("AccessDenied") || status === 403) {
    return "access_denied";
  }
  if (name.startsWith("KMS") || name.startsWith("Kms")) return "kms";
  if (CONNECTION.has(code) || CONNECTION.has(name) || /socket hang up|ECONNRESET|ECONNREFUSED/i.test(e.message ?? "")) {
    return "connection";
  }
  if (typeof status === "number" && status >= 500) return "server_error";
  if (e.$fault === "server") return "server_error";
  if (typeof status === "number" && status >= 400) return "client_error";
  return "unknown";
}

function header(e: AwsLikeError, name: string): string | undefined {
  const h = e.$response?.headers;
  if (!h) return undefined;
  const v = h[name] ?? Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function isWrongRegionError(e: AwsLikeError): boolean {
  const name = e.name ?? "";
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  if (name === "AuthorizationHeaderMalformed") {
    // Malformed for another reason (no region involved) stays a client error.
    return e.Region !== undefined || header(e, "x-amz-bucket-region") !== undefined || /region/i.test(e.message ?? "");
  }
  if (WRONG_REGION.has(name)) return true;
  // A HEAD request's answer has no body, so the SDK names it "Unknown": the status and the header tell.
  if (status === 301) return true;
  return status === 400 && header(e, "x-amz-bucket-region") !== undefined && (name === "Unknown" || name === "");
}

/**
 * The region S3 says the bucket is in, from a wrong-region error: the `x-amz-bucket-region` response header (sent
 * even on 301/403 without s3:ListBucket), the `Region` of AuthorizationHeaderMalformed, or the PermanentRedirect
 * endpoint's host. Undefined when the error does not say.
 */
export function bucketRegionFromError(err: unknown): string | undefined {
  const e = (err ?? {}) as AwsLikeError;
  const fromHeader = header(e, "x-amz-bucket-region");
  if (fromHeader) return fromHeader;
  if (typeof e.Region === "string" && e.Region) return e.Region;
  const m = /(?:^|\.)s3[.-]([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com/.exec(e.Endpoint ?? "") ?? /expecting '([a-z]{2}(?:-[a-z]+)+-\d+)'/.exec(e.message ?? "");
  return m?.[1];
}

/** One line for readiness and logs: what is wrong and how to fix it. */
export function describeWrongRegion(configuredRegion: string, bucketRegion: string | undefined): string {
  return bucketRegion
    ? `bucket is in ${bucketRegion}, the S3 client uses ${configuredRegion}: set S3_REGION=${bucketRegion}`
    : `the bucket is not in ${configuredRegion} (S3 did not say which region it is in): set S3_REGION to the bucket's region`;
}

const RETRYABLE = new Set(["timeout", "throttled", "connection", "server_error", "unknown", "aborted"]);

/** Whether trying the same request again later can succeed without anyone changing anything. */
export function isRetryableReason(reason: string): boolean {
  return RETRYABLE.has(reason);
}

/** Whether the reason concerns the whole destination (so every other message will fail the same way). */
export function isSinkFatalReason(reason: string): boolean {
  return reason === "bucket_not_found" || reason === "access_denied" || reason === "credentials" || reason === "kms" || reason === "wrong_region";
}

/** A short, log-safe description: never includes request bodies or credentials. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof ArchiverError) return { code: err.code, message: err.message };
  const e = (err ?? {}) as AwsLikeError;
  return { code: e.name ?? e.code ?? "Error", message: String(e.message ?? err).slice(0, 500) };
}

/** A port the process must listen on is taken; the message names the variable that moves it. */
export class PortInUseError extends ArchiverError {
  readonly port: number;

  constructor(port: number, variable: string, what: string) {
    super("PORT_IN_USE", `port ${port} (${what}) is already in use: set ${variable} to a free port, e.g. ${variable}=${port + 1}`);
    this.port = port;
  }

  /** `err` as a PortInUseError when it is a listen failure with EADDRINUSE, else `err` itself. */
  static from(err: unknown, port: number, variable: string, what = "the probe and metrics server"): unknown {
    return (err as { code?: string })?.code === "EADDRINUSE" ? new PortInUseError(port, variable, what) : err;
  }
}
