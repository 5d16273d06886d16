import { DEFAULT_RANGE_START } from "../replay/athena.js";
import type { CompactedAthenaOptions } from "../replay/athena-compacted.js";
import { UsageError } from "../replay/errors.js";
import { defaultToPrefix } from "./compact-args.js";
import { bucketAndPrefix, checkPrefix, parse } from "./replay-args.js";

type Env = Readonly<Record<string, string | undefined>>;

export const ATHENA_COMPACTED_HELP = `Usage: sqs-archiver athena-ddl --compacted [--bucket B] [--prefix P] [--to-prefix C] [--table NAME] [--range-start yyyy/MM/dd/HH]

Prints a CREATE EXTERNAL TABLE (Parquet, partition projection on the datehour folders) over the compacted prefix
that sqs-archiver compact writes. --to-prefix defaults as for compact (the source prefix + "-compacted/").`;

/** `athena-ddl --compacted` arguments (pure). */
export function parseAthenaCompactedArgs(argv: string[], env: Env): CompactedAthenaOptions | "help" {
  const { values } = parse(
    argv,
    {
      compacted: { type: "boolean" },
      bucket: { type: "string" },
      prefix: { type: "string" },
      "to-prefix": { type: "string" },
      table: { type: "string" },
      "range-start": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    "athena-ddl",
  );
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) return "help";
  const table = (v.table as string | undefined) ?? "sqs_archive_compacted";
  if (!/^[a-z_][a-z0-9_]{0,127}$/.test(table)) throw new UsageError(`--table ${JSON.stringify(table)}: must be lower-case letters, digits and _ (an Athena table name)`);
  const rangeStart = (v["range-start"] as string | undefined) ?? DEFAULT_RANGE_START;
  if (!/^\d{4}\/\d{2}\/\d{2}\/\d{2}$/.test(rangeStart)) throw new UsageError(`--range-start ${JSON.stringify(rangeStart)}: must be yyyy/MM/dd/HH`);
  const { bucket, prefix } = bucketAndPrefix(v as { bucket?: string; prefix?: string }, env);
  const toPrefix = (v["to-prefix"] as string | undefined) ?? defaultToPrefix(prefix);
  const problems: string[] = [];
  checkPrefix(toPrefix, "--to-prefix", problems);
  if (problems.length) throw new UsageError(problems.join("; "));
  return { bucket, toPrefix, table, rangeStart };
}
