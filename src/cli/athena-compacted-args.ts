import type { CompactedAthenaOptions } from "../replay/athena-compacted.js";
import { UsageError } from "../replay/errors.js";
import { defaultToPrefix } from "./compact-args.js";
import { prefixProblem } from "../validators.js";
import { athenaTable, parse } from "./replay-args.js";

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
  );
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) return "help";
  const { table, rangeStart, bucket, prefix } = athenaTable(v, env, "sqs_archive_compacted");
  const toPrefix = (v["to-prefix"] as string | undefined) ?? defaultToPrefix(prefix);
  const toPrefixProblem = prefixProblem(toPrefix);
  if (toPrefixProblem) throw new UsageError(`--to-prefix ${JSON.stringify(toPrefix)}: ${toPrefixProblem}`);
  return { bucket, toPrefix, table, rangeStart };
}
