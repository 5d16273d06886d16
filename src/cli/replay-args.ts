import { parseArgs, type ParseArgsConfig } from "node:util";
import { regionFromQueueUrl } from "../config.js";
import { booleanProblem, bucketProblem, logLevelProblem, prefixProblem, problemLine, queueUrlProblem, regionProblem, urlProblem, type LogLevel } from "../validators.js";
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
                       names must all match, the same name matches any of its values. NAME!=VALUE excludes:
                       --filter 'smoke-test!=*' drops the CD smoke test's messages
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

/**
 * `--rate -1`: node's parseArgs takes a value starting with '-' for an option, so it refuses the pair as ambiguous.
 * A negative number after a string option is that option's value (then checked like any other value).
 */
function joinNegativeValues(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    if (name && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function parse(argv: string[], options: NonNullable<ParseArgsConfig["options"]>) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A flag's bad value is a usage error (exit 2), a variable's a configuration problem (exit 78). */
function flagOrVariable(flag: string, flagValue: string | undefined, variable: string, envValue: string | undefined, problemOf: (v: string) => string | undefined, problems: string[]): void {
  if (flagValue !== undefined) {
    const p = problemOf(flagValue);
    if (p) throw new UsageError(`${flag} ${JSON.stringify(flagValue)}: ${p}`);
  } else if (envValue !== undefined) {
    const p = problemOf(envValue);
    if (p) problems.push(problemLine(variable, envValue, p));
  }
}

/** Bucket and prefix: a flag wins, else the service's own variables. Missing or invalid is a configuration error. */
export function bucketAndPrefix(values: { bucket?: string; prefix?: string }, env: Env, problems: string[]): { bucket: string; prefix: string } {
  const bucket = values.bucket ?? env.S3_BUCKET_NAME ?? "";
  if (!bucket) problems.push("S3_BUCKET_NAME=(unset): give --bucket or set S3_BUCKET_NAME (the archive bucket)");
  else flagOrVariable("--bucket", values.bucket, "S3_BUCKET_NAME", env.S3_BUCKET_NAME, bucketProblem, problems);
  const prefix = values.prefix ?? (env.S3_PREFIX || DEFAULT_PREFIX);
  flagOrVariable("--prefix", values.prefix, "S3_PREFIX", env.S3_PREFIX || undefined, prefixProblem, problems);
  return { bucket, prefix };
}

/** Where a command's region comes from when AWS_REGION is unset: replay's target queue, or (archive readers) the
 * archived queue's SQS_QUEUE_URL and then the bucket's S3_REGION, as the chart's ConfigMap leaves AWS_REGION empty. */
export type RegionSource = { queueUrl: string | undefined; flag: "--to" } | { queueUrl: string | undefined; flag: "SQS_QUEUE_URL"; s3Only: true };

function regionOf(env: Env, source: RegionSource, check: (name: string, problemOf: (v: string) => string | undefined) => string | undefined, problems: string[]): string | undefined {
  const fromQueue = source.queueUrl && !queueUrlProblem(source.queueUrl) ? regionFromQueueUrl(source.queueUrl) : undefined;
  const region =
    check("AWS_REGION", regionProblem) ??
    check("AWS_DEFAULT_REGION", regionProblem) ??
    fromQueue ??
    ("s3Only" in source && env.S3_REGION && !regionProblem(env.S3_REGION) ? env.S3_REGION : undefined);
  if (!region && !env.AWS_REGION && !env.AWS_DEFAULT_REGION) {
    problems.push(
      source.flag === "--to" && source.queueUrl
        ? `AWS_REGION=(unset): is required when the region cannot be derived from the --to host (${new URL(source.queueUrl).hostname})`
        : "AWS_REGION=(unset): is required (the archive bucket's region; or S3_REGION, or SQS_QUEUE_URL to derive it from)",
    );
  }
  return region;
}

/** The AWS variables every archive command reads (region, endpoints, path style, log level), checked together. */
export function awsSettings(env: Env, source: RegionSource, sockets: number, problems: string[]): { aws: ReplayAwsSettings; logLevel: LogLevel } {
  const check = (name: string, problemOf: (v: string) => string | undefined) => {
    const v = env[name];
    const p = v ? problemOf(v) : undefined;
    if (p) problems.push(problemLine(name, v, p));
    return p ? undefined : v || undefined;
  };
  const region = regionOf(env, source, check, problems);
  const s3Region = check("S3_REGION", regionProblem) ?? region;
  const all = check("AWS_ENDPOINT_URL", urlProblem);
  const sqsEndpoint = check("AWS_ENDPOINT_URL_SQS", urlProblem) ?? all;
  const s3Endpoint = check("AWS_ENDPOINT_URL_S3", urlProblem) ?? all;
  const fps = check("S3_FORCE_PATH_STYLE", booleanProblem);
  const logLevel = (check("LOG_LEVEL", logLevelProblem) ?? "info") as LogLevel;
  return { aws: { region: region as string, s3Region: s3Region as string, sqsEndpoint, s3Endpoint, s3ForcePathStyle: fps === "true", sockets }, logLevel };
}

/** The region source of the commands that only read the archive (compact, verify). */
export const archiveRegion = (env: Env): RegionSource => ({ queueUrl: env.SQS_QUEUE_URL || undefined, flag: "SQS_QUEUE_URL", s3Only: true });

const REPLAY_OPTIONS = {
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
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

export type Values = Record<string, string | boolean | string[] | undefined>;

/** A numeric flag in [min, max] (whole when `int`), or its default when absent. */
export function numberFlag(v: Values, name: string, def: number, range: { min: number; max: number; int: boolean; hint?: string }): number {
  const raw = v[name];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (String(raw).trim() === "" || !Number.isFinite(n) || n < range.min || n > range.max || (range.int && !Number.isInteger(n))) {
    throw new UsageError(`--${name} ${JSON.stringify(raw)}: must be ${range.int ? "a whole number" : "a number"} from ${range.min} to ${range.max}${range.hint ?? ""}`);
  }
  return n;
}

/** --since (required) and --until (default now): the half-open window every archive command reads. */
export function timeWindow(v: Values, nowMs: number): { since: TimeSpec; until: TimeSpec } {
  if (typeof v.since !== "string") throw new UsageError("--since is required (RFC 3339, Unix seconds or a duration such as 2h)");
  const since = parseTime(v.since, nowMs, "--since");
  const until = typeof v.until === "string" ? parseTime(v.until, nowMs, "--until") : { ms: nowMs, relative: true, input: "now" };
  if (since.ms >= until.ms) {
    throw new UsageError(`--since ${v.since} (${new Date(since.ms).toISOString()}) must be before --until ${until.input} (${new Date(until.ms).toISOString()})`);
  }
  return { since, until };
}

/** --since/--until and --to, the flags every replay needs. */
function windowAndTarget(v: Values, nowMs: number): { since: TimeSpec; until: TimeSpec; to: string } {
  if (typeof v.since !== "string") throw new UsageError("--since is required (RFC 3339, Unix seconds or a duration such as 2h)");
  if (typeof v.to !== "string") throw new UsageError("--to QUEUE_URL is required");
  const badTo = queueUrlProblem(v.to);
  if (badTo) throw new UsageError(`--to ${JSON.stringify(v.to)}: ${badTo}`);
  return { ...timeWindow(v, nowMs), to: v.to };
}

export function parseReplayArgs(argv: string[], env: Env, nowMs: number): ReplayCliOptions | "help" {
  const v = parse(argv, REPLAY_OPTIONS).values as Values;
  if (v.help) return "help";
  const { since, until, to } = windowAndTarget(v, nowMs);
  const rate = numberFlag(v, "rate", DEFAULT_RATE, { min: 0, max: 1_000_000, int: false, hint: " messages per second (0 = unlimited)" });
  const concurrency = numberFlag(v, "concurrency", DEFAULT_CONCURRENCY, { min: 1, max: 256, int: true });
  const filterTexts = (v.filter as string[] | undefined) ?? [];
  const filters = filterTexts.map(parseFilter);
  if (v.checkpoint === "") throw new UsageError("--checkpoint needs a file name");
  // Every configuration problem in one pass: the archive's variables and the AWS ones.
  const problems: string[] = [];
  const { bucket, prefix } = bucketAndPrefix(v as { bucket?: string; prefix?: string }, env, problems);
  const { aws, logLevel } = awsSettings(env, { queueUrl: to, flag: "--to" }, Math.max(32, concurrency * 2 + 8), problems);
  if (problems.length) throw new ConfigError(problems);
  return {
    since, until, to, bucket, prefix, filterTexts, filters, rate, concurrency, logLevel, aws,
    dryRun: Boolean(v["dry-run"]),
    checkpoint: v.checkpoint as string | undefined,
    yes: Boolean(v.yes),
    provenance: !v["no-provenance"],
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
  );
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) return "help";
  const format = (v.format as string | undefined) ?? "message";
  if (format !== "message" && format !== "ndjson") throw new UsageError(`--format ${JSON.stringify(format)}: must be message or ndjson`);
  return { ...athenaTable(v, env, "sqs_archive"), format };
}

/** What both athena-ddl forms share: --table, --range-start, and the archive's bucket and prefix. */
export function athenaTable(v: Record<string, string | boolean | undefined>, env: Env, defaultTable: string): { table: string; rangeStart: string; bucket: string; prefix: string } {
  const table = (v.table as string | undefined) ?? defaultTable;
  if (!/^[a-z_][a-z0-9_]{0,127}$/.test(table)) throw new UsageError(`--table ${JSON.stringify(table)}: must be lower-case letters, digits and _ (an Athena table name)`);
  const rangeStart = (v["range-start"] as string | undefined) ?? DEFAULT_RANGE_START;
  if (!/^\d{4}\/\d{2}\/\d{2}\/\d{2}$/.test(rangeStart)) throw new UsageError(`--range-start ${JSON.stringify(rangeStart)}: must be yyyy/MM/dd/HH`);
  const problems: string[] = [];
  const { bucket, prefix } = bucketAndPrefix(v as { bucket?: string; prefix?: string }, env, problems);
  if (problems.length) throw new ConfigError(problems);
  return { table, rangeStart, bucket, prefix };
}
