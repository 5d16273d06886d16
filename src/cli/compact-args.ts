import { tmpdir } from "node:os";
import { ConfigError } from "../errors.js";
import { prefixProblem } from "../validators.js";
import { UsageError } from "../replay/errors.js";
import { parseDuration, type TimeSpec } from "../replay/time.js";
import type { CompactAwsSettings } from "../compact/s3.js";
import { archiveRegion, awsSettings, bucketAndPrefix, numberFlag, parse, timeWindow } from "./replay-args.js";

/** `sqs-archiver compact` arguments: pure (argv, env and now in; options or UsageError/ConfigError out). */

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_SETTLE = "10m";
export const DEFAULT_COMPACT_CONCURRENCY = 4;
/** One DuckDB thread by default: with more, a slice sort needs more than the 256 MB memory_limit (measured). */
export const DEFAULT_THREADS = 1;
export const DEFAULT_MEMORY_LIMIT = "512MB";

export const COMPACT_HELP = `Usage: sqs-archiver compact --since T [--until T] [options]

Turns the closed hours of [--since, --until) into deduplicated Parquet (zstd): every object of each hour under
--prefix (message layout .json, .ndjson, .ndjson.gz, .ndjson.zst, objects named by hand) becomes rows under
--to-prefix at YYYY/MM/DD/HH/gNNNNNN.parquet, ordered by SentTimestamp then SequenceNumber, each messageId exactly
once across the hour's generations. A later run compacts only sources not yet consumed, as a new generation.
Written with If-None-Match: * at deterministic keys; never deletes or overwrites anything.

  --since T            start of the window, inclusive (required; whole hours: the hour holding T is included)
  --until T            end of the window, exclusive (default: now)
                       T: RFC 3339 (2026-11-24T12:00:00Z), Unix seconds, or a duration back from now (2h, 7d)
  --bucket B           archive bucket (default: $S3_BUCKET_NAME)
  --prefix P           raw archive prefix (default: $S3_PREFIX, else sqs-messages/)
  --to-prefix C        compacted prefix (default: the source prefix without its trailing '/' plus '-compacted/',
                       e.g. sqs-messages-compacted/; 'compacted/' for an empty prefix); never inside --prefix
  --settle D           leave alone hours that end less than D ago (default ${DEFAULT_SETTLE}; 0 = none)
  --dry-run            read, deduplicate and report what would be written; write nothing
  --concurrency N      sources read in parallel (default ${DEFAULT_COMPACT_CONCURRENCY})
  --spill-dir DIR      DuckDB database and spill files (default: $COMPACT_SPILL_DIR, else the system temp dir)
  --memory-limit M     DuckDB memory_limit, e.g. 256MB, 1GB (default: $COMPACT_MEMORY_LIMIT, else ${DEFAULT_MEMORY_LIMIT})
  --threads N          DuckDB threads (default ${DEFAULT_THREADS}; more is faster but needs a larger --memory-limit)
  -h, --help           this help

Environment: AWS_REGION, S3_REGION, AWS_ENDPOINT_URL[_S3], S3_FORCE_PATH_STYLE, LOG_LEVEL, the AWS credential chain.
Exit status: 0 every settled hour compacted or up to date; 1 an integrity conflict (the messageIds are named, that
hour is not compacted), bad archive content (that source is not consumed) or a failure; 2 usage error;
78 configuration error; 130 interrupted (nothing half-written: run it again).`;

export interface CompactCliOptions {
  since: TimeSpec;
  until: TimeSpec;
  nowMs: number;
  bucket: string;
  prefix: string;
  toPrefix: string;
  settleMs: number;
  dryRun: boolean;
  concurrency: number;
  spillDir: string;
  memoryLimit: string;
  threads: number;
  logLevel: string;
  aws: CompactAwsSettings;
}

/** The default compacted prefix: beside the source prefix, never inside it. */
export function defaultToPrefix(prefix: string): string {
  return prefix === "" ? "compacted/" : `${prefix.replace(/\/+$/, "")}-compacted/`;
}


const COMPACT_OPTIONS = {
  since: { type: "string" },
  until: { type: "string" },
  bucket: { type: "string" },
  prefix: { type: "string" },
  "to-prefix": { type: "string" },
  settle: { type: "string" },
  "dry-run": { type: "boolean" },
  concurrency: { type: "string" },
  "spill-dir": { type: "string" },
  "memory-limit": { type: "string" },
  threads: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** --to-prefix, or the default beside the source prefix; never inside it (compacted files would be read as raw). */
function toPrefixOf(given: string | undefined, prefix: string, prefixIsValid: boolean): string {
  const toPrefix = given ?? defaultToPrefix(prefix);
  const problem = given !== undefined ? prefixProblem(toPrefix) : undefined;
  if (problem) throw new UsageError(`--to-prefix ${JSON.stringify(toPrefix)}: ${problem}`);
  if (prefixIsValid && (toPrefix === prefix || (prefix !== "" && toPrefix.startsWith(prefix)) || (toPrefix !== "" && prefix.startsWith(toPrefix)))) {
    throw new UsageError(`--to-prefix ${JSON.stringify(toPrefix)}: must not be inside the source prefix ${JSON.stringify(prefix)} or contain it`);
  }
  return toPrefix;
}

export function parseCompactArgs(argv: string[], env: Env, nowMs: number): CompactCliOptions | "help" {
  const { values } = parse(argv, COMPACT_OPTIONS);
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) return "help";
  const { since, until } = timeWindow(v, nowMs);
  const settleText = (v.settle as string | undefined) ?? DEFAULT_SETTLE;
  const settleMs = settleText === "0" ? 0 : parseDuration(settleText);
  if (settleMs === null) throw new UsageError(`--settle ${JSON.stringify(settleText)}: must be a duration such as 10m, 1h or 0`);
  const concurrency = numberFlag(v, "concurrency", DEFAULT_COMPACT_CONCURRENCY, { min: 1, max: 64, int: true });
  const threads = numberFlag(v, "threads", DEFAULT_THREADS, { min: 1, max: 256, int: true });
  const memoryLimit = (v["memory-limit"] as string | undefined) ?? (env.COMPACT_MEMORY_LIMIT || DEFAULT_MEMORY_LIMIT);
  const memOk = /^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i.test(memoryLimit);
  if (!memOk && v["memory-limit"] !== undefined) throw new UsageError(`--memory-limit ${JSON.stringify(memoryLimit)}: must be a size such as 256MB or 1GB`);
  if (v["spill-dir"] === "") throw new UsageError("--spill-dir needs a directory");

  const problems: string[] = [];
  const { bucket, prefix } = bucketAndPrefix(v as { bucket?: string; prefix?: string }, env, problems);
  // A source prefix that is itself invalid is already a configuration problem.
  const toPrefix = toPrefixOf(v["to-prefix"] as string | undefined, prefix, problems.length === 0);
  if (!memOk) problems.push(`COMPACT_MEMORY_LIMIT=${JSON.stringify(memoryLimit)}: must be a size such as 256MB or 1GB`);
  const { aws, logLevel } = awsSettings(env, archiveRegion(env), concurrency * 2 + 8, problems);
  if (problems.length) throw new ConfigError(problems);

  return {
    since,
    until,
    nowMs,
    bucket,
    prefix,
    toPrefix,
    settleMs,
    dryRun: Boolean(v["dry-run"]),
    concurrency,
    spillDir: (v["spill-dir"] as string | undefined) ?? (env.COMPACT_SPILL_DIR || tmpdir()),
    memoryLimit,
    threads,
    logLevel,
    aws: { s3Region: aws.s3Region, s3Endpoint: aws.s3Endpoint, s3ForcePathStyle: aws.s3ForcePathStyle, sockets: aws.sockets },
  };
}
