import convict from "convict";
import { S3_MAX_ATTEMPTS } from "./aws/sdk-settings.js";
import { ConfigError } from "./errors.js";
import { bucketProblem, LOG_LEVELS, prefixProblem, queueUrlProblem, regionProblem, urlProblem, type LogLevel } from "./validators.js";

/**
 * Configuration comes only from environment variables (names kept compatible with the original sqs-processor
 * ConfigMap). Parsing is pure: it takes an env object and returns a frozen Config or throws ConfigError with one
 * problem per variable, so main can exit before any AWS client exists.
 */

export const SSE_MODES = ["none", "AES256", "aws:kms"] as const;
export type SseMode = (typeof SSE_MODES)[number];

export const STORAGE_CLASSES = [
  "STANDARD",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER_IR",
  "GLACIER",
  "DEEP_ARCHIVE",
  "REDUCED_REDUNDANCY",
] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

export const ARCHIVE_FORMATS = ["message", "ndjson"] as const;
export type ArchiveFormat = (typeof ARCHIVE_FORMATS)[number];

export const ARCHIVE_COMPRESSIONS = ["gzip", "zstd", "none"] as const;
export type ArchiveCompression = (typeof ARCHIVE_COMPRESSIONS)[number];

/** Defined with the clients they configure (aws/sdk-settings.ts); re-exported for modules that read config.js. */
export { S3_MAX_ATTEMPTS, SQS_MAX_ATTEMPTS, SQS_REQUEST_TIMEOUT_SLACK_SECONDS } from "./aws/sdk-settings.js";

/**
 * Overall bound on one SQS call made while handling a batch (DeleteMessageBatch, ChangeMessageVisibilityBatch: all
 * SDK attempts included), so an SQS brownout cannot hold a receive loop for 2 tries x 3 attempts x (WAIT + 10) s.
 */
export const SQS_HANDLER_CALL_TIMEOUT_MS = 15_000;

/** DeleteMessageBatch tries per chunk of 10 (the first, plus one retry of entries that failed on SQS's side). */
export const SQS_DELETE_TRIES = 2;

/** Longest pause the receive gate puts before a receive after failures (receive errors / sink errors). */
export const RECEIVE_BACKOFF_MAX_MS = 20_000;
export const SINK_BACKOFF_MAX_MS = 30_000;

export { LOG_LEVELS, type LogLevel };

export interface Config {
  readonly queueUrl: string;
  readonly bucket: string;
  readonly region: string;
  /** The bucket's region; the queue's region unless S3_REGION says otherwise. */
  readonly s3Region: string;
  readonly prefix: string;
  readonly maxMessagesPerPoll: number;
  readonly waitTimeSeconds: number;
  readonly pollIntervalSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  readonly heartbeatIntervalSeconds: number;
  readonly concurrency: number;
  readonly healthPort: number;
  readonly logLevel: LogLevel;
  readonly s3ForcePathStyle: boolean;
  readonly sse: SseMode;
  readonly kmsKeyId: string | undefined;
  readonly storageClass: StorageClass;
  readonly shutdownTimeoutSeconds: number;
  readonly s3RequestTimeoutSeconds: number;
  /** Hard bound on one archive write, all attempts included (S3_MAX_ATTEMPTS x S3_REQUEST_TIMEOUT_SECONDS). */
  readonly s3WriteBudgetSeconds: number;
  readonly archiveFormat: ArchiveFormat;
  readonly archiveCompression: ArchiveCompression;
  readonly batchMaxMessages: number;
  readonly batchMaxBytes: number;
  readonly batchMaxSeconds: number;
  /**
   * Budget for message bytes held in memory (received and not yet deleted or released); receives wait while it is
   * spent. 0 in the environment means "derive from the container's memory limit".
   */
  readonly maxInflightBytes: number;
  /** Explicit endpoints from the SDK's standard variables (LocalStack, fauxqs, VPC endpoints). */
  readonly sqsEndpoint: string | undefined;
  readonly s3Endpoint: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Formats are registered with convict so its env coercion runs through them: a boolean default would otherwise make
 * convict turn any non-empty string (even "yes") into true.
 */
function intRange(min: number, max: number): string {
  const name = `int-${min}-${max}`;
  convict.addFormat({
    name,
    validate(value: unknown) {
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        throw new Error(`must be a whole number from ${min} to ${max}`);
      }
    },
    coerce: (v: unknown) => (typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
  });
  return name;
}

convict.addFormat({
  name: "strict-boolean",
  validate(value: unknown) {
    if (typeof value !== "boolean") throw new Error("must be true or false");
  },
  coerce: (v: unknown) => (v === "true" ? true : v === "false" ? false : v),
});
const bool = "strict-boolean";

function oneOf(values: readonly string[]) {
  const check = (value: unknown): void => {
    if (typeof value !== "string" || !values.includes(value)) throw new Error(`must be one of ${values.join(", ")}`);
  };
  // Read by the README test (the table's allowed values).
  return Object.assign(check, { values });
}

/** A convict format from a shared validator (src/validators.ts); `required` names what an unset value is. */
function checked(problemOf: (v: string) => string | undefined, required?: string) {
  return (value: unknown): void => {
    if (value === null || value === undefined || value === "") {
      if (required) throw new Error(`is required (${required})`);
      return;
    }
    const problem = problemOf(String(value));
    if (problem) throw new Error(problem);
  };
}

const queueUrl = checked(queueUrlProblem, "the SQS queue URL");
const bucketName = checked(bucketProblem, "the S3 bucket name");
const prefix = checked(prefixProblem);
const optionalUrl = checked(urlProblem);
const region = checked(regionProblem);

function optionalString(value: unknown): void {
  if (value !== null && value !== undefined && typeof value !== "string") throw new Error("must be a string");
}

const schema = {
  SQS_QUEUE_URL: { doc: "URL of the queue to archive", format: queueUrl, default: null as string | null, env: "SQS_QUEUE_URL" },
  S3_BUCKET_NAME: { doc: "Destination bucket", format: bucketName, default: null as string | null, env: "S3_BUCKET_NAME" },
  AWS_REGION: { doc: "AWS region; derived from the queue URL when unset", format: region, default: "", env: "AWS_REGION" },
  S3_REGION: { doc: "Region of the bucket; the queue's region when unset", format: region, default: "", env: "S3_REGION" },
  S3_PREFIX: { doc: "Key prefix for archives", format: prefix, default: "sqs-messages/", env: "S3_PREFIX" },
  MAX_MESSAGES_PER_POLL: { doc: "Messages per ReceiveMessage", format: intRange(1, 10), default: 10, env: "MAX_MESSAGES_PER_POLL" },
  WAIT_TIME_SECONDS: { doc: "Long-poll wait", format: intRange(0, 20), default: 20, env: "WAIT_TIME_SECONDS" },
  POLL_INTERVAL_SECONDS: {
    doc: "Pause after an empty receive",
    format: intRange(0, 3600),
    default: 0,
    env: "POLL_INTERVAL_SECONDS",
  },
  VISIBILITY_TIMEOUT_SECONDS: {
    doc: "Visibility timeout requested on receive and renewed by the heartbeat",
    format: intRange(2, 43200),
    default: 60,
    env: "VISIBILITY_TIMEOUT_SECONDS",
  },
  CONCURRENCY: { doc: "Concurrent receive loops", format: intRange(1, 64), default: 8, env: "CONCURRENCY" },
  HEALTH_PORT: { doc: "Port for probes and metrics (0 picks a free port)", format: intRange(0, 65535), default: 8080, env: "HEALTH_PORT" },
  LOG_LEVEL: { doc: "pino log level", format: oneOf(LOG_LEVELS), default: "info", env: "LOG_LEVEL" },
  S3_FORCE_PATH_STYLE: { doc: "Path-style S3 URLs", format: bool, default: false, env: "S3_FORCE_PATH_STYLE" },
  S3_SSE: { doc: "Server-side encryption", format: oneOf(SSE_MODES), default: "none", env: "S3_SSE" },
  S3_KMS_KEY_ID: { doc: "KMS key for aws:kms", format: optionalString, default: "", env: "S3_KMS_KEY_ID" },
  S3_STORAGE_CLASS: { doc: "Storage class", format: oneOf(STORAGE_CLASSES), default: "STANDARD", env: "S3_STORAGE_CLASS" },
  SHUTDOWN_TIMEOUT_SECONDS: {
    doc: "Drain budget after SIGTERM",
    format: intRange(1, 3600),
    default: 30,
    env: "SHUTDOWN_TIMEOUT_SECONDS",
  },
  S3_REQUEST_TIMEOUT_SECONDS: {
    doc: "Per-attempt PutObject timeout",
    format: intRange(1, 600),
    default: 30,
    env: "S3_REQUEST_TIMEOUT_SECONDS",
  },
  ARCHIVE_FORMAT: {
    doc: "message: one object per message; ndjson: many messages per compressed NDJSON object",
    format: oneOf(ARCHIVE_FORMATS),
    default: "message",
    env: "ARCHIVE_FORMAT",
  },
  ARCHIVE_COMPRESSION: { doc: "Compression of ndjson objects", format: oneOf(ARCHIVE_COMPRESSIONS), default: "gzip", env: "ARCHIVE_COMPRESSION" },
  BATCH_MAX_MESSAGES: { doc: "ndjson: flush a batch at this many messages", format: intRange(1, 1_000_000), default: 10_000, env: "BATCH_MAX_MESSAGES" },
  BATCH_MAX_BYTES: {
    doc: "ndjson: flush a batch at this many compressed bytes",
    format: intRange(1024, 5 * 1024 ** 3),
    default: 16 * 1024 * 1024,
    env: "BATCH_MAX_BYTES",
  },
  BATCH_MAX_SECONDS: { doc: "ndjson: flush a batch this long after its first message", format: intRange(1, 3600), default: 60, env: "BATCH_MAX_SECONDS" },
  MAX_INFLIGHT_BYTES: {
    doc: "Message bytes held in memory before receives wait; 0 derives it from the container memory limit",
    format: intRange(0, 64 * 1024 ** 3),
    default: 0,
    env: "MAX_INFLIGHT_BYTES",
  },
  AWS_ENDPOINT_URL: { doc: "SDK endpoint for every service", format: optionalUrl, default: "", env: "AWS_ENDPOINT_URL" },
  AWS_ENDPOINT_URL_SQS: { doc: "SDK endpoint for SQS", format: optionalUrl, default: "", env: "AWS_ENDPOINT_URL_SQS" },
  AWS_ENDPOINT_URL_S3: { doc: "SDK endpoint for S3", format: optionalUrl, default: "", env: "AWS_ENDPOINT_URL_S3" },
};

/** The schema itself, for the checks that documentation agrees with it (test/unit/readme.test.ts). */
export const CONFIG_SCHEMA: Readonly<Record<string, { default: unknown; format: unknown }>> = schema;

/** The service's own variables, in the order the README and the ConfigMaps list them. */
export const SERVICE_ENV_VARS: readonly string[] = Object.keys(schema).filter((k) => !k.startsWith("AWS_ENDPOINT_URL"));

/** Region from hosts like sqs.eu-west-1.amazonaws.com, eu-west-1.queue.amazonaws.com or sqs.us-east-1.localhost. */
export function regionFromQueueUrl(url: string): string | undefined {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return undefined;
  }
  const m = /^sqs[.-]([a-z]{2}(?:-[a-z]+)+-\d+)\./.exec(host) ?? /^([a-z]{2}(?:-[a-z]+)+-\d+)\.queue\./.exec(host);
  return m?.[1];
}

function show(value: unknown): string {
  if (value === undefined || value === null) return "(unset)";
  return JSON.stringify(String(value));
}

/** What the host tells main about the container (cgroup memory limit via process.constrainedMemory()). */
export interface RuntimeInfo {
  memoryLimitBytes?: number | undefined;
}

const MiB = 1024 * 1024;

/**
 * The in-flight byte budget when MAX_INFLIGHT_BYTES is 0: a sixteenth of the container's memory limit (each byte of
 * message body costs several in memory: the SDK's response, the parsed string, the escaped envelope, the PUT buffer),
 * at least 8 MiB; 64 MiB without a known limit.
 */
export function defaultInflightBytes(memoryLimitBytes: number | undefined): number {
  // constrainedMemory() reports a huge number (or 0) when there is no limit.
  if (!memoryLimitBytes || memoryLimitBytes > 1024 ** 4) return 64 * MiB;
  return Math.max(8 * MiB, Math.floor(memoryLimitBytes / 16));
}

/**
 * The shortest drain budget that lets a long poll open at SIGTERM return by itself: the stop waits for open polls
 * until min(5 s, a quarter of the budget) before its end, then aborts them (service.ts).
 */
export function minShutdownSeconds(waitTimeSeconds: number): number {
  for (let b = 1; ; b++) if (b - Math.min(5, b / 4) >= waitTimeSeconds) return b;
}

/** Seconds a batch's messages must stay invisible: the longest a batch stays open plus the write budget. */
export function minNdjsonVisibilitySeconds(c: { batchMaxSeconds: number; s3WriteBudgetSeconds: number }): number {
  return c.batchMaxSeconds + c.s3WriteBudgetSeconds;
}

type Raw = Record<string, unknown>;

/**
 * A rule between variables, checked once each of the variables it `uses` is valid on its own, so a single run
 * reports every problem: the per-variable ones and these.
 */
interface CrossRule {
  uses: readonly string[];
  check(raw: Raw, given: Readonly<Record<string, string>>): string | undefined;
}

const CROSS_RULES: readonly CrossRule[] = [
  {
    uses: ["S3_SSE", "S3_KMS_KEY_ID"],
    check: (raw) =>
      raw.S3_SSE !== "aws:kms" && raw.S3_KMS_KEY_ID
        ? `S3_KMS_KEY_ID=${show(raw.S3_KMS_KEY_ID)}: is only allowed with S3_SSE=aws:kms (S3_SSE is ${show(raw.S3_SSE)})`
        : undefined,
  },
  {
    uses: ["ARCHIVE_FORMAT", "VISIBILITY_TIMEOUT_SECONDS", "BATCH_MAX_SECONDS", "S3_REQUEST_TIMEOUT_SECONDS"],
    check(raw, given) {
      if (raw.ARCHIVE_FORMAT !== "ndjson" || given.VISIBILITY_TIMEOUT_SECONDS === undefined) return undefined;
      const need = minNdjsonVisibilitySeconds({
        batchMaxSeconds: raw.BATCH_MAX_SECONDS as number,
        s3WriteBudgetSeconds: S3_MAX_ATTEMPTS * (raw.S3_REQUEST_TIMEOUT_SECONDS as number),
      });
      if ((raw.VISIBILITY_TIMEOUT_SECONDS as number) > need) return undefined;
      return `VISIBILITY_TIMEOUT_SECONDS=${show(given.VISIBILITY_TIMEOUT_SECONDS)}: must be more than BATCH_MAX_SECONDS + ${S3_MAX_ATTEMPTS} x S3_REQUEST_TIMEOUT_SECONDS = ${need} with ARCHIVE_FORMAT=ndjson (a batch's messages must stay invisible until its object is written); raise it, or lower BATCH_MAX_SECONDS or S3_REQUEST_TIMEOUT_SECONDS`;
    },
  },
  {
    uses: ["WAIT_TIME_SECONDS", "SHUTDOWN_TIMEOUT_SECONDS"],
    check(raw, given) {
      const wait = raw.WAIT_TIME_SECONDS as number;
      const shutdown = raw.SHUTDOWN_TIMEOUT_SECONDS as number;
      if (shutdown >= minShutdownSeconds(wait)) return undefined;
      return `SHUTDOWN_TIMEOUT_SECONDS=${show(given.SHUTDOWN_TIMEOUT_SECONDS ?? shutdown)}: must be at least ${minShutdownSeconds(wait)} with WAIT_TIME_SECONDS=${show(given.WAIT_TIME_SECONDS ?? wait)} (the long polls open at SIGTERM must return before the stop stops waiting for them, min(5 s, a quarter of the budget) before its end; an aborted poll can still be handed messages nobody processes); raise SHUTDOWN_TIMEOUT_SECONDS or lower WAIT_TIME_SECONDS`;
    },
  },
  {
    uses: ["AWS_REGION", "SQS_QUEUE_URL"],
    check: (raw) =>
      !raw.AWS_REGION && !regionFromQueueUrl(String(raw.SQS_QUEUE_URL))
        ? `AWS_REGION=(unset): is required when the region cannot be derived from SQS_QUEUE_URL host (${new URL(String(raw.SQS_QUEUE_URL)).hostname})`
        : undefined,
  },
];

/** Batched mode's own variables: set with ARCHIVE_FORMAT=message they change nothing, which deserves a warning. */
export const BATCHED_ONLY_VARS = ["ARCHIVE_COMPRESSION", "BATCH_MAX_MESSAGES", "BATCH_MAX_BYTES", "BATCH_MAX_SECONDS"] as const;

/** Settings that are valid but have no effect as configured: one line each, logged at start-up as warnings. */
export function configWarnings(env: Env, config: Pick<Config, "archiveFormat">): string[] {
  if (config.archiveFormat === "ndjson") return [];
  return BATCHED_ONLY_VARS.filter((k) => env[k] !== undefined && env[k] !== "").map(
    (k) => `${k}=${show(env[k])}: has no effect with ARCHIVE_FORMAT=message (it applies to batched mode, ARCHIVE_FORMAT=ndjson)`,
  );
}

/** convict's per-variable check: one "NAME=VALUE: reason" line per bad variable, and the bad names. */
function schemaProblems(c: convict.Config<Raw>, given: Readonly<Record<string, string>>): { problems: string[]; bad: Set<string> } {
  const problems: string[] = [];
  const bad = new Set<string>();
  try {
    c.validate({ allowed: "strict" });
  } catch (err) {
    // convict reports one "NAME: reason: value was X" line per bad variable; the raw env value is clearer.
    for (const line of (err as Error).message.split("\n")) {
      const m = /^([A-Z0-9_]+): (.*?)(?:: value was .*)?$/s.exec(line.trim());
      if (!m) continue;
      const name = m[1] as string;
      bad.add(name);
      problems.push(`${name}=${show(given[name])}: ${m[2]}`);
    }
    if (problems.length === 0) problems.push((err as Error).message);
  }
  return { problems, bad };
}

export function loadConfig(env: Env, runtime: RuntimeInfo = {}): Config {
  // Empty strings mean "unset" (a ConfigMap key left blank), so defaults apply.
  const given: Record<string, string> = {};
  for (const name of Object.keys(schema)) {
    const v = env[name];
    if (v !== undefined && v !== "") given[name] = v;
  }
  const c = convict(schema as unknown as convict.Schema<Raw>, { env: given, args: [] });
  const { problems, bad } = schemaProblems(c, given);
  const raw = c.getProperties();
  for (const rule of CROSS_RULES) {
    if (rule.uses.some((n) => bad.has(n))) continue;
    const problem = rule.check(raw, given);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return buildConfig(raw, given, runtime);
}

function buildConfig(raw: Raw, given: Readonly<Record<string, string>>, runtime: RuntimeInfo): Config {
  const str = (k: string) => String(raw[k] ?? "");
  const s3WriteBudgetSeconds = S3_MAX_ATTEMPTS * (raw.S3_REQUEST_TIMEOUT_SECONDS as number);
  const batchMaxSeconds = raw.BATCH_MAX_SECONDS as number;
  const archiveFormat = raw.ARCHIVE_FORMAT as ArchiveFormat;
  // Unset in ndjson mode: long enough for a batch to fill and be written, with a margin for the heartbeat.
  const visibility =
    archiveFormat === "ndjson" && given.VISIBILITY_TIMEOUT_SECONDS === undefined
      ? minNdjsonVisibilitySeconds({ batchMaxSeconds, s3WriteBudgetSeconds }) + 30
      : (raw.VISIBILITY_TIMEOUT_SECONDS as number);
  const region = str("AWS_REGION") || (regionFromQueueUrl(str("SQS_QUEUE_URL")) as string);
  return Object.freeze({
    queueUrl: str("SQS_QUEUE_URL"),
    bucket: str("S3_BUCKET_NAME"),
    region,
    s3Region: str("S3_REGION") || region,
    prefix: str("S3_PREFIX"),
    maxMessagesPerPoll: raw.MAX_MESSAGES_PER_POLL as number,
    waitTimeSeconds: raw.WAIT_TIME_SECONDS as number,
    pollIntervalSeconds: raw.POLL_INTERVAL_SECONDS as number,
    visibilityTimeoutSeconds: visibility,
    // A third of the timeout leaves two renewals' slack before a slow write's messages reappear.
    heartbeatIntervalSeconds: Math.max(1, Math.floor(visibility / 3)),
    concurrency: raw.CONCURRENCY as number,
    healthPort: raw.HEALTH_PORT as number,
    logLevel: raw.LOG_LEVEL as LogLevel,
    s3ForcePathStyle: raw.S3_FORCE_PATH_STYLE as boolean,
    sse: raw.S3_SSE as SseMode,
    kmsKeyId: str("S3_KMS_KEY_ID") || undefined,
    storageClass: raw.S3_STORAGE_CLASS as StorageClass,
    shutdownTimeoutSeconds: raw.SHUTDOWN_TIMEOUT_SECONDS as number,
    s3RequestTimeoutSeconds: raw.S3_REQUEST_TIMEOUT_SECONDS as number,
    s3WriteBudgetSeconds,
    archiveFormat,
    archiveCompression: raw.ARCHIVE_COMPRESSION as ArchiveCompression,
    batchMaxMessages: raw.BATCH_MAX_MESSAGES as number,
    batchMaxBytes: raw.BATCH_MAX_BYTES as number,
    batchMaxSeconds,
    maxInflightBytes: (raw.MAX_INFLIGHT_BYTES as number) || defaultInflightBytes(runtime.memoryLimitBytes),
    sqsEndpoint: str("AWS_ENDPOINT_URL_SQS") || str("AWS_ENDPOINT_URL") || undefined,
    s3Endpoint: str("AWS_ENDPOINT_URL_S3") || str("AWS_ENDPOINT_URL") || undefined,
  });
}
