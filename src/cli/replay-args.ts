import { parseArgs, type ParseArgsConfig } from "node:util";
import { regionFromQueueUrl } from "../config.js";
import { ConfigError } from "../errors.js";
import { DEFAULT_RANGE_START, type AthenaOptions } from "../replay/athena.js";
import { checkpointMismatch, type CheckpointState } from "../replay/checkpoint.js";
import { UsageError } from "../replay/errors.js";
import { parseFilter, type Filter } from "../replay/filter.js";
import type { ReplayAwsSettings } from "../replay/clients.js";
import { parseTime, type TimeSpec } from "../replay/time.js";

/** Argument parsing for the CLI's subcommands: pure (argv, env and now in; options or UsageError/ConfigError out). */

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_RATE = 500;
export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_PREFIX = "sqs-messages/";

export const REPLAY_HELP = `Usage: sqs-archiver replay --since T --to QUEUE_URL [options]

Sends archived messages whose SentTimestamp is in [--since, --until) to a queue again: exact body, every message
attribute (Binary included), FIFO group and deduplication ids; each message once (deduplicated by messageId).

  --since T            start of the window, inclusive (required)
  --until T            end of the window, exclusive (default: now)
                       T: RFC 3339 (2026-11-24T12:00:00Z, +02:00 offsets), Unix seconds (1764000000),
                       or a duration back from now (90m, 2h, 7d, 1h30m)
  --to QUEUE_URL       queue to send to (required)
  --bucket B           archive bucket (default: $S3_BUCKET_NAME)
  --prefix P           archive prefix (default: $S3_PREFIX, else sqs-messages/)
  --filter NAME=VALUE  only messages whose message attribute NAME (else system attribute NAME, such as
                       MessageGroupId) equals VALUE; VALUE* matches a prefix, NAME=* any value. Repeat: different
                       names must all match, the same name matches any of its values
  --rate N             messages per second, at most (default ${DEFAULT_RATE}; 0 = unlimited)
  --concurrency N      SendMessageBatch requests and S3 reads in flight (default ${DEFAULT_CONCURRENCY})
  --dry-run            send nothing: per-hour counts, bytes, S3 and SQS requests, sample message ids
  --checkpoint FILE    record progress in FILE and resume from it (Ctrl-C, crash, kill -9)
  --yes                allow replaying into the queue the archive came from
  --no-provenance      do not add the sqs-archiver-original-message-id / -sent-timestamp attributes
  -h, --help           this help

Environment: AWS_REGION (else derived from --to), S3_REGION, AWS_ENDPOINT_URL[_SQS|_S3], S3_FORCE_PATH_STYLE,
LOG_LEVEL, and the usual AWS credential chain.
Exit status: 0 all matched messages sent; 1 some failed or bad archive content (each logged); 2 usage error or
refused (same queue without --yes); 78 configuration error; 130 interrupted (resume with the same --checkpoint).`;

export const ATHENA_HELP = `Usage: sqs-archiver athena-ddl [--bucket B] [--prefix P] [--format message|ndjson] [--table NAME] [--range-start yyyy/MM/dd/HH]

Prints a CREATE EXTERNAL TABLE (Hive JSON SerDe, partition projection on the datehour folders) over the archive and
a view keeping one row per messageId. --bucket defaults to $S3_BUCKET_NAME, --prefix to $S3_PREFIX.`;

export interface ReplayCliOptions {
  since: TimeSpec;
  until: TimeSpec;
  to: string;
  bucket: string;
  prefix: string;
  filterTexts: string[];
  filters: Filter[];
  rate: number;
  concurrency: number;
  dryRun: boolean;
  checkpoint: string | undefined;
  yes: boolean;
  provenance: boolean;
  logLevel: string;
  aws: ReplayAwsSettings;
}

export function parse(argv: string[], options: NonNullable<ParseArgsConfig["options"]>, _command: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function checkPrefix(p: string, where: string, problems: string[]): void {
  if (p.startsWith("/")) problems.push(`${where}=${JSON.stringify(p)}: must not start with '/'`);
  if (Buffer.byteLength(p) > 512) problems.push(`${where}: must be at most 512 bytes`);
}

/** Bucket and prefix: a flag wins, else the service's own variables. Missing or invalid is a configuration error. */
export function bucketAndPrefix(values: { bucket?: string; prefix?: string }, env: Env): { bucket: string; prefix: string } {
  const problems: string[] = [];
  const bucket = values.bucket ?? env.S3_BUCKET_NAME ?? "";
  if (!bucket) problems.push("S3_BUCKET_NAME=(unset): give --bucket or set S3_BUCKET_NAME (the archive bucket)");
  else if (!BUCKET_RE.test(bucket) || bucket.includes("..")) {
    const msg = `must be a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-'; no s3:// prefix)`;
    if (values.bucket !== undefined) throw new UsageError(`--bucket ${JSON.stringify(bucket)}: ${msg}`);
    problems.push(`S3_BUCKET_NAME=${JSON.stringify(bucket)}: ${msg}`);
  }
  const prefix = values.prefix ?? (env.S3_PREFIX || DEFAULT_PREFIX);
  if (values.prefix !== undefined) {
    const p: string[] = [];
    checkPrefix(prefix, "--prefix", p);
    if (p.length) throw new UsageError(p.join("; "));
  } else checkPrefix(prefix, "S3_PREFIX", problems);
  if (problems.length) throw new ConfigError(problems);
  return { bucket, prefix };
}

function validQueueUrl(v: string): boolean {
  try {
    const u = new URL(v);
    const parts = u.pathname.split("/").filter(Boolean);
    return /^https?:$/.test(u.protocol) && parts.length === 2 && /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(parts[1] ?? "");
  } catch {
    return false;
  }
}

export function optionalUrl(env: Env, name: string, problems: string[]): string | undefined {
  const v = env[name];
  if (!v) return undefined;
  try {
    if (!/^https?:$/.test(new URL(v).protocol)) throw new Error();
  } catch {
    problems.push(`${name}=${JSON.stringify(v)}: must be an http(s) URL`);
  }
  return v;
}

export function parseReplayArgs(argv: string[], env: Env, nowMs: number): ReplayCliOptions | "help" {
  const { values } = parse(
    argv,
    {
      since: { type: "string" },
      until: { type: "string" },
      to: { type: "string" },
      bucket: { type: "string" },
      prefix: { type: "string" },
      filter: { type: "string", multiple: true },
      rate: { type: "string" },
      concurrency: { type: "string" },
      "dry-run": { type: "boolean" },
      checkpoint: { type: "string" },
      yes: { type: "boolean" },
      "no-provenance": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    "replay",
  );
  const v = values as Record<string, string | boolean | string[] | undefined>;
  if (v.help) return "help";
  if (typeof v.since !== "string") throw new UsageError("--since is required (RFC 3339, Unix seconds or a duration such as 2h)");
  if (typeof v.to !== "string") throw new UsageError("--to QUEUE_URL is required");
  if (!validQueueUrl(v.to)) throw new UsageError(`--to ${JSON.stringify(v.to)}: must be an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/my-queue`);
  const since = parseTime(v.since, nowMs, "--since");
  const until = typeof v.until === "string" ? parseTime(v.until, nowMs, "--until") : { ms: nowMs, relative: true, input: "now" };
  if (since.ms >= until.ms) {
    throw new UsageError(`--since ${v.since} (${new Date(since.ms).toISOString()}) must be before --until ${until.input} (${new Date(until.ms).toISOString()})`);
  }
  const num = (name: string, def: number, min: number, max: number, int: boolean) => {
    const raw = v[name];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (String(raw).trim() === "" || !Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) {
      throw new UsageError(`--${name} ${JSON.stringify(raw)}: must be ${int ? "a whole number" : "a number"} from ${min} to ${max}`);
    }
    return n;
  };
  const rate = num("rate", DEFAULT_RATE, 0, 1_000_000, false);
  const concurrency = num("concurrency", DEFAULT_CONCURRENCY, 1, 256, true);
  const filterTexts = (v.filter as string[] | undefined) ?? [];
  const filters = filterTexts.map(parseFilter);
  if (v.checkpoint === "") throw new UsageError("--checkpoint needs a file name");

  const { bucket, prefix } = bucketAndPrefix(v as { bucket?: string; prefix?: string }, env);
  const problems: string[] = [];
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || regionFromQueueUrl(v.to);
  if (!region) problems.push(`AWS_REGION=(unset): is required when the region cannot be derived from the --to host (${new URL(v.to).hostname})`);
  else if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) problems.push(`AWS_REGION=${JSON.stringify(region)}: must be an AWS region such as eu-west-1`);
  const s3Region = env.S3_REGION || region;
  if (env.S3_REGION && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(env.S3_REGION)) problems.push(`S3_REGION=${JSON.stringify(env.S3_REGION)}: must be an AWS region such as eu-west-1`);
  const all = optionalUrl(env, "AWS_ENDPOINT_URL", problems);
  const sqsEndpoint = optionalUrl(env, "AWS_ENDPOINT_URL_SQS", problems) ?? all;
  const s3Endpoint = optionalUrl(env, "AWS_ENDPOINT_URL_S3", problems) ?? all;
  const fps = env.S3_FORCE_PATH_STYLE;
  if (fps && fps !== "true" && fps !== "false") problems.push(`S3_FORCE_PATH_STYLE=${JSON.stringify(fps)}: must be true or false`);
  const logLevel = env.LOG_LEVEL || "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)}: must be one of fatal, error, warn, info, debug, trace, silent`);
  if (problems.length) throw new ConfigError(problems);

  return {
    since,
    until,
    to: v.to,
    bucket,
    prefix,
    filterTexts,
    filters,
    rate,
    concurrency,
    dryRun: Boolean(v["dry-run"]),
    checkpoint: v.checkpoint as string | undefined,
    yes: Boolean(v.yes),
    provenance: !v["no-provenance"],
    logLevel,
    aws: { region: region as string, s3Region: s3Region as string, sqsEndpoint, s3Endpoint, s3ForcePathStyle: fps === "true", sockets: Math.max(32, concurrency * 2 + 8) },
  };
}

/**
 * The window a resumed replay uses: a checkpoint's target, bucket, prefix and filters must match; an absolute
 * --since/--until must equal the recorded one, a relative one (2h) takes the recorded value (now has moved on).
 */
export function resolveResume(o: ReplayCliOptions, saved: CheckpointState | undefined): { sinceMs: number; untilMs: number } {
  if (!saved) return { sinceMs: o.since.ms, untilMs: o.until.ms };
  const why = checkpointMismatch(saved.job, { version: 1, to: o.to, bucket: o.bucket, prefix: o.prefix, filters: o.filterTexts });
  const timeDiff = (spec: TimeSpec, recorded: number, flag: string) =>
    !spec.relative && spec.ms !== recorded ? `${flag} ${new Date(recorded).toISOString()}` : undefined;
  const t = [timeDiff(o.since, saved.job.sinceMs, "--since"), timeDiff(o.until, saved.job.untilMs, "--until")].filter(Boolean);
  if (why || t.length) {
    throw new UsageError(`--checkpoint ${o.checkpoint}: ${why ?? `it was written for a different window (${t.join(", ")})`}; use another file, or delete it to start over`);
  }
  return { sinceMs: saved.job.sinceMs, untilMs: saved.job.untilMs };
}

export function parseAthenaArgs(argv: string[], env: Env): AthenaOptions | "help" {
  const { values } = parse(
    argv,
    {
      bucket: { type: "string" },
      prefix: { type: "string" },
      format: { type: "string" },
      table: { type: "string" },
      "range-start": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "athena-ddl",
  );
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) return "help";
  const format = (v.format as string | undefined) ?? "message";
  if (format !== "message" && format !== "ndjson") throw new UsageError(`--format ${JSON.stringify(format)}: must be message or ndjson`);
  const table = (v.table as string | undefined) ?? "sqs_archive";
  if (!/^[a-z_][a-z0-9_]{0,127}$/.test(table)) throw new UsageError(`--table ${JSON.stringify(table)}: must be lower-case letters, digits and _ (an Athena table name)`);
  const rangeStart = (v["range-start"] as string | undefined) ?? DEFAULT_RANGE_START;
  if (!/^\d{4}\/\d{2}\/\d{2}\/\d{2}$/.test(rangeStart)) throw new UsageError(`--range-start ${JSON.stringify(rangeStart)}: must be yyyy/MM/dd/HH`);
  const { bucket, prefix } = bucketAndPrefix(v as { bucket?: string; prefix?: string }, env);
  return { bucket, prefix, format, table, rangeStart };
}
