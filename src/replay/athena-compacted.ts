import { COMPACTED_COLUMNS } from "../archive/compacted.js";
import { datehourProjection } from "./athena.js";

/**
 * `sqs-archiver athena-ddl --compacted`: a Parquet table over the compacted prefix (`sqs-archiver compact`), with the
 * same datehour partition projection as the raw table. Every messageId is there exactly once across an hour's
 * generations, so it needs no dedupe view. Manifests live under `_manifests/`, outside every partition.
 */

export interface CompactedAthenaOptions {
  bucket: string;
  toPrefix: string;
  table: string;
  rangeStart: string;
}

/** Parquet (DuckDB) column type -> Hive type. */
export function hiveTypeOf(duck: string): string {
  const t = duck.trim();
  const scalar: Record<string, string> = { VARCHAR: "string", TIMESTAMP_MS: "timestamp", TIMESTAMP: "timestamp", BLOB: "binary", BIGINT: "bigint" };
  if (scalar[t]) return scalar[t] as string;
  if (t.endsWith("[]")) return `array<${hiveTypeOf(t.slice(0, -2))}>`;
  const m = /^(MAP|STRUCT)\((.*)\)$/.exec(t);
  if (!m) throw new Error(`no Hive type for ${duck}`);
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of m[2] as string) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  parts.push(cur.trim());
  if (m[1] === "MAP") return `map<${hiveTypeOf(parts[0] as string)},${hiveTypeOf(parts[1] as string)}>`;
  return `struct<${parts.map((p) => `${p.slice(0, p.indexOf(" "))}:${hiveTypeOf(p.slice(p.indexOf(" ") + 1))}`).join(",")}>`;
}

export const COMPACTED_HIVE_COLUMNS: ReadonlyArray<{ name: string; hive: string }> = COMPACTED_COLUMNS.map(([name, type]) => ({ name, hive: hiveTypeOf(type) }));

export function compactedAthenaDdl(o: CompactedAthenaOptions): string {
  const width = Math.max(...COMPACTED_HIVE_COLUMNS.map((c) => c.name.length)) + 2;
  const cols = COMPACTED_HIVE_COLUMNS.map((c, i) => `  ${`\`${c.name}\``.padEnd(width + 1)} ${c.hive}${i < COMPACTED_HIVE_COLUMNS.length - 1 ? "," : ""}`);
  return [
    `-- sqs-archiver compacted dataset: s3://${o.bucket}/${o.toPrefix}YYYY/MM/DD/HH/gNNNNNN.parquet (sqs-archiver compact)`,
    "-- Each messageId appears exactly once per hour across its generations: no dedupe view needed. Rows are sorted by",
    "-- sent_at then sequence_number; message_attributes binary_value is the exact bytes. Filter on datehour ('yyyy/MM/dd/HH').",
    `CREATE EXTERNAL TABLE IF NOT EXISTS \`${o.table}\` (`,
    ...cols,
    ")",
    "PARTITIONED BY (`datehour` string)",
    "STORED AS PARQUET",
    `LOCATION 's3://${o.bucket}/${o.toPrefix}'`,
    ...datehourProjection(o.rangeStart, `s3://${o.bucket}/${o.toPrefix}\${datehour}/`),
    "",
  ].join("\n");
}
