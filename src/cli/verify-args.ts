import { ConfigError } from "../errors.js";
import { prefixProblem } from "../validators.js";
import type { ReplayAwsSettings } from "../replay/clients.js";
import { UsageError } from "../replay/errors.js";
import { DEFAULT_MAX_PROBLEMS } from "../verify/verify.js";
import { archiveRegion, awsSettings, bucketAndPrefix, numberFlag, parse, timeWindow } from "./replay-args.js";

/** `sqs-archiver verify` arguments: pure (argv, env and now in; options or UsageError/ConfigError out). */

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_VERIFY_CONCURRENCY = 8;

export const VERIFY_HELP = `Usage: sqs-archiver verify --since T [--until T] [options]

Reads every archive object of the hours covering [--since, --until) (both layouts, every codec) and checks that the
archive is complete and intact. Prints a per-hour table (objects, messages, distinct ids, duplicates, bytes,
problems) and every problem with its code, object key and message id.

  --since T            start of the window (required); whole UTC hours are read
  --until T            end of the window, exclusive (default: now)
                       T: RFC 3339 (2026-11-24T12:00:00Z), Unix seconds, or a duration back from now (90m, 2h, 7d)
  --bucket B           archive bucket (default: $S3_BUCKET_NAME)
  --prefix P           archive prefix (default: $S3_PREFIX, else sqs-messages/)
  --compacted-prefix C also check \`sqs-archiver compact\`'s Parquet generations under C against the raw hours
  --json               print one JSON document (figures and every problem; docs/verify-report.schema.json)
  --html FILE          also write a self-contained HTML report (chart per hour, problems table) to FILE
  --concurrency N      objects read at once (default ${DEFAULT_VERIFY_CONCURRENCY})
  --max-problems N     problems listed in the report; more are counted only (default ${DEFAULT_MAX_PROBLEMS})
  -h, --help           this help

Problem codes: CORRUPT_OBJECT, MALFORMED_LINE, UNKNOWN_SCHEMA, MD5_MISMATCH, WRONG_HOUR, KEY_ID_MISMATCH,
BATCH_HASH_MISMATCH, COUNT_MISMATCH, CONFLICT; with --compacted-prefix also MISSING_FROM_COMPACTED,
EXTRA_IN_COMPACTED, DUPLICATE_IN_COMPACTED (docs/verify.md). A second copy of a message with the same content
(a redelivery written into another batch) is counted as a duplicate, not a problem.

Environment: AWS_REGION, S3_REGION, AWS_ENDPOINT_URL[_S3], S3_FORCE_PATH_STYLE, LOG_LEVEL, the AWS credential chain.
Exit status: 0 clean; 1 problems found (or the archive could not be listed); 2 usage error; 78 configuration
error; 130 interrupted.`;

export interface VerifyCliOptions {
  sinceMs: number;
  untilMs: number;
  bucket: string;
  prefix: string;
  compactedPrefix: string | undefined;
  json: boolean;
  html: string | undefined;
  concurrency: number;
  maxProblems: number;
  logLevel: string;
  aws: ReplayAwsSettings;
}



export function parseVerifyArgs(argv: string[], env: Env, nowMs: number): VerifyCliOptions | "help" {
  const { values } = parse(
    argv,
    {
      since: { type: "string" },
      until: { type: "string" },
      bucket: { type: "string" },
      prefix: { type: "string" },
      "compacted-prefix": { type: "string" },
      json: { type: "boolean" },
      html: { type: "string" },
      concurrency: { type: "string" },
      "max-problems": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  );
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) return "help";
  const { since, until } = timeWindow(v, nowMs);
  if (v.html === "") throw new UsageError("--html needs a file name");
  const concurrency = numberFlag(v, "concurrency", DEFAULT_VERIFY_CONCURRENCY, { min: 1, max: 256, int: true });
  const maxProblems = numberFlag(v, "max-problems", DEFAULT_MAX_PROBLEMS, { min: 1, max: 10_000_000, int: true });
  const problems: string[] = [];
  const { bucket, prefix } = bucketAndPrefix(v as { bucket?: string; prefix?: string }, env, problems);
  const compactedPrefix = v["compacted-prefix"] as string | undefined;
  if (compactedPrefix !== undefined) {
    const p = prefixProblem(compactedPrefix) ?? (compactedPrefix === prefix ? "must differ from --prefix" : undefined);
    if (p) throw new UsageError(`--compacted-prefix ${JSON.stringify(compactedPrefix)}: ${p}`);
  }
  const { aws, logLevel } = awsSettings(env, archiveRegion(env), Math.max(16, concurrency * 2), problems);
  if (problems.length) throw new ConfigError(problems);

  return {
    sinceMs: since.ms,
    untilMs: until.ms,
    bucket,
    prefix,
    compactedPrefix,
    json: Boolean(v.json),
    html: v.html as string | undefined,
    concurrency,
    maxProblems,
    logLevel,
    aws: { ...aws, sqsEndpoint: undefined },
  };
}
